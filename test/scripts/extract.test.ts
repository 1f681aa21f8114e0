import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { ROOT } from '../helpers/paths.js'

const EXTRACT = path.join(ROOT, 'scripts', 'extract.py')
const AGGREGATE = path.join(ROOT, 'scripts', 'aggregate.py')
const work = mkdtempSync(path.join(tmpdir(), 'bac-scripts-'))
after(() => rmSync(work, { recursive: true, force: true }))

let counter = 0
/** A fresh sandbox folder: everything a script does must stay inside `sandbox/out`. */
function sandbox (): string {
  const dir = path.join(work, `case-${counter++}`)
  mkdirSync(dir)
  return dir
}

/** Builds a zip with python's zipfile: entries are [name, content, unix mode]. */
function makeZip (file: string, entries: Array<[string, string, number?]>): void {
  const script = `
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    for name, content, mode in json.loads(sys.argv[2]):
        info = zipfile.ZipInfo(name)
        info.external_attr = (0o100644 if mode is None else mode) << 16
        z.writestr(info, content)
`
  const r = spawnSync('python3', ['-c', script, file, JSON.stringify(entries.map(([n, c, m]) => [n, c, m ?? null]))], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
}

function run (script: string, args: string[], cwd: string): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync('python3', [script, ...args], { cwd, encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Every path under a folder, relative to it. */
function tree (dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: false }).map(String).sort()
}

describe('scripts/extract.py', () => {
  it('extracts a zip, keeping folders, and filters with --only', () => {
    const dir = sandbox()
    makeZip(path.join(dir, 'a.zip'), [['sales/north.csv', 'a,b\n1,2\n'], ['sales/readme.txt', 'hi'], ['top.csv', 'x\n']])
    const r = run(EXTRACT, ['a.zip', 'out', '--only', '*.csv'], dir)
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(tree(path.join(dir, 'out')), ['sales', 'sales/north.csv', 'top.csv'])
    assert.equal(readFileSync(path.join(dir, 'out', 'sales', 'north.csv'), 'utf8'), 'a,b\n1,2\n')
  })

  const hostile: Array<[string, Array<[string, string, number?]>, RegExp]> = [
    ['a path climbing out with ..', [['ok.csv', 'fine'], ['../escaped.txt', 'pwned']], /climbs out/],
    ['a deep climb hidden in a folder', [['a/b/../../../escaped.txt', 'pwned']], /climbs out/],
    ['an absolute path', [['/tmp/escaped-abs.txt', 'pwned']], /absolute path/],
    ['a Windows drive path', [['C:\\escaped.txt', 'pwned']], /absolute path/],
    ['a backslash climb', [['..\\escaped.txt', 'pwned']], /climbs out/],
    ['a symbolic link', [['link', '/etc/passwd', 0o120777]], /link entries/],
    ['a symlink then a write through it', [['d', '..', 0o120777], ['d/escaped.txt', 'pwned']], /link entries/],
    ['a device file', [['dev', '', 0o020644]], /special entries/],
    ['a duplicate entry', [['x.csv', 'one'], ['x.csv', 'two']], /duplicate entry/]
  ]
  for (const [what, entries, reason] of hostile) {
    it(`refuses ${what}, writing nothing anywhere`, () => {
      const dir = sandbox()
      makeZip(path.join(dir, 'evil.zip'), entries)
      const before = tree(dir)
      const r = run(EXTRACT, ['evil.zip', path.join('deep', 'out')], dir)
      assert.equal(r.code, 3, r.stdout + r.stderr)
      assert.match(r.stderr, reason)
      assert.doesNotMatch(r.stderr, /Traceback/)
      // nothing inside the sandbox but the zip and the (empty) parent folder it made
      assert.deepEqual(tree(dir).filter((p) => !before.includes(p)), ['deep'])
      assert.deepEqual(tree(path.join(dir, 'deep')), [])
      assert.equal(existsSync('/tmp/escaped-abs.txt'), false)
      assert.equal(existsSync(path.join(work, 'escaped.txt')), false)
    })
  }

  it('takes entries with permission bits but no file type as regular files', () => {
    const dir = sandbox()
    makeZip(path.join(dir, 'a.zip'), [['plain.csv', 'x\n', 0o644], ['none.csv', 'y\n', 0]])
    const r = run(EXTRACT, ['a.zip', 'out'], dir)
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(tree(path.join(dir, 'out')), ['none.csv', 'plain.csv'])
  })

  it('fails clearly on a file that is not a zip', () => {
    const dir = sandbox()
    const r = run(EXTRACT, [path.join(ROOT, 'README.md'), 'out'], dir)
    assert.equal(r.code, 2)
    assert.match(r.stderr, /cannot read/)
  })
})

describe('scripts/aggregate.py', () => {
  it('summarises the sample archive per file and per category', () => {
    const dir = sandbox()
    assert.equal(run(EXTRACT, [path.join(ROOT, 'pipelines', 'data', 'sales.zip'), 'files'], dir).code, 0)
    const r = run(AGGREGATE, ['files', 'out', '--group-by', 'category'], dir)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /summarised 2 file\(s\), 7 row\(s\)/)
    const summary = JSON.parse(readFileSync(path.join(dir, 'out', 'summary.json'), 'utf8')) as {
      total_rows: number
      files: Record<string, { rows: number, numeric: Record<string, { sum: number }> }>
      groups: Record<string, { rows: number, numeric: Record<string, { sum: number, mean: number }> }>
    }
    assert.equal(summary.total_rows, 7)
    assert.equal(summary.files['sales/north.csv']?.rows, 4)
    assert.equal(summary.files['sales/north.csv']?.numeric.revenue?.sum, 2800.75)
    assert.deepEqual(Object.keys(summary.groups), ['Furniture', 'Office Supplies', 'Technology'])
    assert.equal(summary.groups['Office Supplies']?.rows, 3)
    assert.equal(summary.groups['Office Supplies']?.numeric.units?.sum, 60)
    const csv = readFileSync(path.join(dir, 'out', 'summary.csv'), 'utf8').split('\n')
    assert.equal(csv[0]?.trim(), 'scope,name,column,count,sum,min,max,mean')
    assert.deepEqual(tree(path.join(dir, 'out')), ['summary.csv', 'summary.json'])
  })

  it('fails clearly, writing nothing, when there is no CSV or no such column', () => {
    const dir = sandbox()
    mkdirSync(path.join(dir, 'empty'))
    const none = run(AGGREGATE, ['empty', 'out'], dir)
    assert.equal(none.code, 2)
    assert.match(none.stderr, /no \.csv files/)
    assert.equal(existsSync(path.join(dir, 'out')), false)
    assert.equal(run(EXTRACT, [path.join(ROOT, 'pipelines', 'data', 'sales.zip'), 'files'], dir).code, 0)
    const column = run(AGGREGATE, ['files', 'out', '--group-by', 'nope'], dir)
    assert.equal(column.code, 2)
    assert.match(column.stderr, /has no column 'nope'/)
    assert.equal(existsSync(path.join(dir, 'out')), false)
  })
})
