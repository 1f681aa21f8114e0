import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createValidator, type ServingNode } from '../../src/index.js'
import { ROOT } from '../helpers/paths.js'
import { api } from '../helpers/api.js'
import { Project, until } from './helpers.js'

/** Every file under a folder, as paths relative to it. */
function files (dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
}

describe('untrusted values from messages and file names', () => {
  const p = new Project()
  const canary = path.join(p.dir, 'PWNED')
  const nasty = [
    `'; touch ${canary}; echo '`,
    `$(touch ${canary})`,
    `\`touch ${canary}\``,
    `line one\ntouch ${canary}`,
    `"; touch ${canary}; echo "`,
    '../../../../etc/passwd',
    `\\$(touch ${canary}) & | > < * ?`
  ]
  let node: ServingNode
  before(async () => {
    cpSync(path.join(ROOT, 'jobstore'), path.join(p.dir, 'jobstore'), { recursive: true })
    cpSync(path.join(ROOT, 'scripts'), path.join(p.dir, 'scripts'), { recursive: true })
    cpSync(path.join(ROOT, 'pipelines', 'downloads.yml'), path.join(p.dir, 'pipelines', 'downloads.yml'))
    const downloads = createValidator().validatePipelineFile(path.join(p.dir, 'pipelines', 'downloads.yml')).value
    assert.ok(downloads !== undefined)
    const echo = p.pipeline('echo', `name: echo
on:
  message: { topic: echo }
steps:
  say:
    run: printf '%s' {{ trigger.message.text }} > {{ outputs.path }}/out.txt
`)
    const names = p.pipeline('names', `name: names
on:
  watch: { path: ../drop, input: file, stable: 100ms }
inputs:
  file: { type: file }
steps:
  say:
    run: printf '%s' {{ trigger.file.name }} > {{ outputs.path }}/name.txt; cat {{ inputs.file.path }} > {{ outputs.path }}/content.txt
`)
    node = await p.start([downloads, echo, names], { api: { host: '127.0.0.1', port: 0 } })
  })
  after(async () => { await p.close() })

  async function output (runId: string, file: string): Promise<string> {
    let text = ''
    for await (const chunk of node.node.store.cat(`${node.node.runs.getRun(runId)?.resultCid ?? ''}/say/merged/${file}`)) text += Buffer.from(chunk).toString()
    return text
  }

  it('message fields reach the shell quoted: nothing runs, each value arrives as it was sent', async () => {
    const res = await api(node, '/api/v1/messages/echo', { method: 'POST', body: JSON.stringify(nasty.map((text) => ({ text }))), headers: { 'content-type': 'application/json' } })
    assert.equal(res.status, 202)
    const runs = (await res.json() as { runs: Array<{ id: string, row: number }> }).runs
    await until(() => runs.every((r) => node.node.runs.getRun(r.id)?.status === 'succeeded'), 'the runs')
    for (const run of runs) assert.equal(await output(run.id, 'out.txt'), nasty[run.row])
    assert.equal(existsSync(canary), false, 'no command in a value ran')
  })

  it('file names reach the shell quoted', async () => {
    // a file name cannot hold '/': these commands leave their mark on stderr instead of a file
    const names = ['$(echo INJECTED >&2).txt', '`echo INJECTED >&2`.txt', "'; echo INJECTED >&2; '.txt", '"; echo INJECTED >&2; ".txt',
      'line\necho INJECTED >&2.txt', "a'b\".txt", '-rf.txt', '* ? & | > <.txt']
    for (const [i, name] of names.entries()) {
      const staged = path.join(p.dir, `staged-${i}`)
      writeFileSync(staged, `content ${i}\n`)
      renameSync(staged, path.join(p.dir, 'drop', name))
    }
    await until(() => p.runs().filter((r) => r.pipeline === 'names' && r.status === 'succeeded').length === names.length, 'a run per file')
    for (const run of p.runs().filter((r) => r.pipeline === 'names')) {
      const name = (run.trigger.file as { name: string }).name
      assert.equal(await output(run.id, 'name.txt'), name)
      assert.equal(await output(run.id, 'content.txt'), `content ${names.indexOf(name)}\n`)
      const logs = path.join(p.dataDir, 'runs', run.id, 'logs', 'say')
      // a log folder is made with the first byte a step prints: none means nothing was printed
      for (const attempt of existsSync(logs) ? readdirSync(logs) : []) {
        const stderr = path.join(logs, attempt, 'stderr.log')
        assert.equal(existsSync(stderr) ? readFileSync(stderr, 'utf8') : '', '', `no command in ${JSON.stringify(name)} ran`)
      }
    }
  })

  it('a zip whose entries try to escape fails the run, and nothing is written outside its target', async () => {
    const zip = path.join(p.dir, 'evil.zip')
    execFileSync('python3', ['-c', `
import zipfile, sys
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    z.writestr('ok.csv', 'a,b\\n1,2\\n')
    z.writestr('../../../../escaped.csv', 'x\\n')
    z.writestr('/abs-escaped.csv', 'x\\n')
`, zip])
    const before = files(p.dir).filter((f) => !f.startsWith('data/'))
    const res = await api(node, '/api/v1/messages/downloads', { method: 'POST', body: JSON.stringify({ zip_path: zip, target: 'evil' }), headers: { 'content-type': 'application/json' } })
    assert.equal(res.status, 202)
    const [run] = (await res.json() as { runs: Array<{ id: string }> }).runs
    await until(() => ['failed', 'succeeded'].includes(node.node.runs.getRun(run?.id ?? '')?.status ?? ''), 'the run')
    const record = node.node.runs.getRun(run?.id ?? '')
    assert.equal(record?.status, 'failed')
    assert.match(record?.reason ?? '', /extract/)
    // the run's work folder goes as its end is recorded: the data dir is walked once it has gone
    await until(() => !existsSync(path.join(p.dataDir, 'runs', run?.id ?? '', 'work')), 'the run\'s work folder to be removed')
    const logs = readdirSync(path.join(p.dataDir, 'runs', run?.id ?? '', 'logs', 'extract'))
    const stderr = readFileSync(path.join(p.dataDir, 'runs', run?.id ?? '', 'logs', 'extract', logs[0] ?? '', 'stderr.log'), 'utf8')
    assert.match(stderr, /refused/)
    const after = files(p.dir).filter((f) => !f.startsWith('data/'))
    assert.deepEqual(after.filter((f) => !before.includes(f)), [])
    assert.equal(files(p.dataDir).some((f) => f.endsWith('escaped.csv')), false)
    assert.equal(existsSync(path.join(path.dirname(p.dir), 'escaped.csv')), false)
  })

  it('a target that would climb out is refused with the message (400), before any run', async () => {
    const count = p.runs().length
    for (const target of ['../x', '..', '.hidden', 'a/b', '']) {
      const res = await api(node, '/api/v1/messages/downloads', { method: 'POST', body: JSON.stringify({ zip_path: 'data/sales.zip', target }), headers: { 'content-type': 'application/json' } })
      assert.equal(res.status, 400, target)
      assert.match(((await res.json()) as { error: string }).error, /row 0: field 'target' must match pattern/)
    }
    assert.equal(p.runs().length, count)
    // and the extract script refuses such a name itself, whatever a pipeline's schema allows
    const out = path.join(p.dir, 'into-test')
    let refused = ''
    try {
      execFileSync('python3', [path.join(ROOT, 'scripts', 'extract.py'), path.join(ROOT, 'pipelines', 'data', 'sales.zip'), out, '--into', '../x'], { stdio: 'pipe' })
    } catch (err) {
      refused = String((err as { stderr: Buffer }).stderr)
    }
    assert.match(refused, /--into must be one folder name/)
    assert.equal(existsSync(path.join(p.dir, 'x')), false)
  })
})
