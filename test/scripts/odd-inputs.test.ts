import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { ROOT } from '../helpers/paths.js'

/**
 * The shipped scripts given odd archives and odd CSV files: one clear line on stderr and a
 * non-zero exit, never a traceback, and nothing left behind.
 */
const EXTRACT = path.join(ROOT, 'scripts', 'extract.py')
const AGGREGATE = path.join(ROOT, 'scripts', 'aggregate.py')
const work = mkdtempSync(path.join(tmpdir(), 'bac-odd-'))
after(() => rmSync(work, { recursive: true, force: true }))

let counter = 0
function sandbox (): string {
  const dir = path.join(work, `case-${counter++}`)
  mkdirSync(dir)
  return dir
}

/** An entry: a name (`BADNAME` is made invalid UTF-8 by the `bad-name` patch), and text or that many zero bytes. */
interface Entry { name: string, text?: string, zeros?: number, dir?: boolean }

/**
 * Builds a zip with python's zipfile, then damages it on purpose: `encrypt` sets the encrypted
 * flag, `bad-name` makes a name invalid UTF-8 while flagged as UTF-8, `declare:<n>` makes every
 * entry declare n bytes, `truncate` cuts the file in half, `corrupt-data` garbles the first
 * entry's compressed bytes.
 */
function makeZip (file: string, entries: Entry[], patch: string[] = []): void {
  const script = `
import json, struct, sys, zipfile
path, spec = sys.argv[1], json.loads(sys.argv[2])
with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
    for e in spec['entries']:
        info = zipfile.ZipInfo(e['name'])
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = (0o40755 if e.get('dir') else 0o100644) << 16
        z.writestr(info, b'\\0' * e['zeros'] if 'zeros' in e else e.get('text', '').encode())
data = bytearray(open(path, 'rb').read())
def headers(sig):
    at = data.find(sig)
    while at != -1:
        yield at
        at = data.find(sig, at + 4)
for op in spec['patch']:
    if op == 'encrypt':
        for at in headers(b'PK\\x03\\x04'): data[at + 6] |= 1
        for at in headers(b'PK\\x01\\x02'): data[at + 8] |= 1
    elif op == 'bad-name':
        data = bytearray(data.replace(b'BADNAME', b'\\xff\\xfe\\xfdNAME'))
        for at in headers(b'PK\\x03\\x04'): data[at + 7] |= 0x08
        for at in headers(b'PK\\x01\\x02'): data[at + 9] |= 0x08
    elif op.startswith('declare:'):
        n = int(op.split(':')[1])
        for at in headers(b'PK\\x03\\x04'): struct.pack_into('<I', data, at + 22, n)
        for at in headers(b'PK\\x01\\x02'): struct.pack_into('<I', data, at + 24, n)
    elif op == 'truncate':
        data = data[:len(data) // 2]
    elif op == 'corrupt-data':
        n, m = struct.unpack_from('<HH', data, 26)
        for i in range(30 + n + m + 2, 30 + n + m + 12): data[i] ^= 0x5a
open(path, 'wb').write(data)
`
  execFileSync('python3', ['-c', script, file, JSON.stringify({ entries, patch })])
}

function run (script: string, args: string[], cwd: string): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync('python3', [script, ...args], { cwd, encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.signal, null, `${path.basename(script)} did not end`)
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** One line on stderr, no traceback. */
function oneLine (stderr: string): void {
  assert.doesNotMatch(stderr, /Traceback|^\s+File "/m, stderr)
  assert.equal(stderr.split('\n').filter((l) => l !== '').length, 1, stderr)
}

const tree = (dir: string): string[] => readdirSync(dir, { recursive: true }).map(String).sort()

describe('scripts/extract.py on odd archives', () => {
  const cases: Array<[string, Entry[], string[], number, RegExp, string[]?]> = [
    ['a file and then a folder of the same name', [{ name: 'a', text: 'x' }, { name: 'a/b.csv', text: 'y' }], [], 3,
      /entry 'a\/b\.csv' needs 'a' as a folder, but the archive has a file of that name/],
    ['a folder and then a file of the same name', [{ name: 'a/b.csv', text: 'y' }, { name: 'a', text: 'x' }], [], 3, /entry 'a' is a file, but the archive has a folder of that name/],
    ['a folder entry and then a file of the same name', [{ name: 'a/', dir: true }, { name: 'a', text: 'x' }], [], 3, /entry 'a' is a file, but the archive has a folder of that name/],
    ['a 300-character name', [{ name: `${'x'.repeat(296)}.csv`, text: 'y' }], [], 3, /entry name is too long for a file name/],
    ['a path too long in all', [{ name: `${'abcdefgh/'.repeat(460)}x.csv`, text: 'y' }], [], 3, /entry name is too long/],
    ['a name with an escape sequence', [{ name: 'a\u001b[31m.csv', text: 'y' }], [], 3, /entry name contains control characters: 'a\\x1b\[31m\.csv'/],
    ['a name with a newline', [{ name: 'a\nb.csv', text: 'y' }], [], 3, /control characters/],
    ['a name that is not valid UTF-8', [{ name: 'BADNAME.csv', text: 'y' }], ['bad-name'], 3, /marks its entry names as UTF-8, and one is not/],
    ['an encrypted entry', [{ name: 'a.csv', text: 'secret' }], ['encrypt'], 3, /encrypted entries are not extracted: 'a\.csv'/],
    ['a tiny zip declaring more than 4 GiB', [{ name: 'a.csv', text: 'x' }, { name: 'b.csv', text: 'x' }], ['declare:4294967294'], 3,
      /archive declares 8589934588 bytes, more than the 4294967296 allowed/],
    ['a bomb beyond --max-bytes', [{ name: 'zeros.csv', zeros: 20 * 1024 * 1024 }], [], 3, /declares 20971520 bytes, more than the 1000000 allowed/, ['--max-bytes', '1000000']],
    ['an entry that inflates beyond what it declares', [{ name: 'zeros.csv', zeros: 1024 * 1024 }], ['declare:100'], 2, /damaged one \(BadZipFile: Bad CRC-32/],
    ['a truncated zip', [{ name: 'a.csv', text: 'x'.repeat(5000) }], ['truncate'], 2, /not a zip archive, or a damaged one/],
    ['garbled compressed data', [{ name: 'a.csv', text: 'hello, world. '.repeat(500) }], ['corrupt-data'], 2, /not a zip archive, or a damaged one \((error|BadZipFile)/]
  ]
  for (const [what, entries, patch, code, message, extra] of cases) {
    it(`refuses ${what} in one line, writing nothing`, () => {
      const dir = sandbox()
      makeZip(path.join(dir, 'odd.zip'), entries, patch)
      const r = run(EXTRACT, ['odd.zip', path.join('deep', 'out'), ...(extra ?? [])], dir)
      assert.equal(r.code, code, r.stdout + r.stderr)
      oneLine(r.stderr)
      assert.match(r.stderr, message)
      assert.deepEqual(tree(dir), ['deep', 'odd.zip'])
    })
  }

  it('bounds what it writes by --max-bytes even when the archive declares less', () => {
    const dir = sandbox()
    makeZip(path.join(dir, 'ok.zip'), [{ name: 'a.csv', zeros: 600 }, { name: 'b.csv', zeros: 600 }])
    assert.equal(run(EXTRACT, ['ok.zip', 'out', '--max-bytes', '1200'], dir).code, 0)
    const r = run(EXTRACT, ['ok.zip', 'out2', '--max-bytes', '1000'], dir)
    assert.equal(r.code, 3)
    oneLine(r.stderr)
    assert.equal(existsSync(path.join(dir, 'out2')), false)
  })

  it('fails in one line on an archive that is a folder or unreadable', () => {
    const dir = sandbox()
    mkdirSync(path.join(dir, 'folder.zip'))
    for (const archive of ['folder.zip', 'missing.zip']) {
      const r = run(EXTRACT, [archive, 'out'], dir)
      assert.equal(r.code, 2)
      oneLine(r.stderr)
    }
  })
})

describe('scripts/aggregate.py on odd CSV files', () => {
  const cases: Array<[string, string | Buffer, RegExp, string[]?]> = [
    ['an empty file', '', /odd\.csv is empty: a CSV file starts with a header row/],
    ['a binary file', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0xff, 0xd8, 0x0a, 0x00]), /odd\.csv line 1 is not UTF-8 text \(byte 0xff\)/],
    ['NUL bytes', 'a,b\n1,2\n3\u0000,4\n', /odd\.csv line 3 holds a NUL byte: it is binary, not CSV/],
    ['Latin-1 text', Buffer.from('name,n\ncaf\xe9,1\n', 'latin1'), /odd\.csv line 2 is not UTF-8 text \(byte 0xe9\)/],
    ['a row with fewer fields', 'a,b\n1,2\n3\n', /odd\.csv line 3 has 1 field\(s\), the header has 2/],
    ['a row with more fields', 'a,b\n1,2\n3,4,5\n', /odd\.csv line 3 has 3 field\(s\), the header has 2/],
    ['ragged rows grouped', 'a,b\nx,2\ny\n', /odd\.csv line 3 has 1 field\(s\)/, ['--group-by', 'b']],
    ['a column named twice', 'a,a\n1,2\n', /odd\.csv line 1 names the column 'a' twice/],
    ['an unterminated quote', 'a,b\n"1,2\n', /odd\.csv line 2: not CSV: unexpected end of data/]
  ]
  for (const [what, content, message, extra] of cases) {
    it(`fails on ${what} in one line, writing nothing`, () => {
      const dir = sandbox()
      mkdirSync(path.join(dir, 'data'))
      writeFileSync(path.join(dir, 'data', 'good.csv'), 'a,b\n1,2\n')
      writeFileSync(path.join(dir, 'data', 'odd.csv'), content)
      const r = run(AGGREGATE, ['data', 'out', ...(extra ?? [])], dir)
      assert.equal(r.code, 2, r.stdout + r.stderr)
      oneLine(r.stderr)
      assert.match(r.stderr, message)
      assert.equal(existsSync(path.join(dir, 'out')), false)
    })
  }

  it('refuses a .csv that is a FIFO without blocking on it', () => {
    const dir = sandbox()
    mkdirSync(path.join(dir, 'data'))
    execFileSync('mkfifo', [path.join(dir, 'data', 'pipe.csv')])
    const r = run(AGGREGATE, ['data', 'out'], dir)
    assert.equal(r.code, 2)
    oneLine(r.stderr)
    assert.match(r.stderr, /pipe\.csv is not a regular file/)
  })

  it('still takes blank lines, quoted commas and a header without rows', () => {
    const dir = sandbox()
    mkdirSync(path.join(dir, 'data'))
    writeFileSync(path.join(dir, 'data', 'a.csv'), 'name,n\n"x, y",1\n\n"z",2\n')
    writeFileSync(path.join(dir, 'data', 'b.csv'), 'name,n\n')
    const r = run(AGGREGATE, ['data', 'out'], dir)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /summarised 2 file\(s\), 2 row\(s\)/)
  })
})
