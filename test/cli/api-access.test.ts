import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { bac, startBac } from '../helpers/cli.js'
import { ROOT } from '../helpers/paths.js'
import { until } from '../helpers/until.js'

describe('the CLI and a node\'s token, and files the CLI reads', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'bac-cli-access-'))
  const project = path.join(work, 'project')
  const home = path.join(work, 'home')
  const env = { BAC_HOME: home }
  let node: Awaited<ReturnType<typeof startBac>>
  before(async () => {
    for (const dir of ['pipelines', 'jobstore', 'scripts']) cpSync(path.join(ROOT, dir), path.join(project, dir), { recursive: true })
    node = await startBac(['serve', '--api', '127.0.0.1:0', '--port', '0'], /API http:\/\/127\.0\.0\.1:\d+/, { cwd: project, env })
  })
  after(async () => {
    node.child.kill('SIGINT')
    await new Promise((resolve) => node.child.once('exit', resolve))
    rmSync(work, { recursive: true, force: true })
  })

  it('finds the token of the node serving on its data dir; another token is refused with a hint', () => {
    const listed = bac(['job', 'list'], { env, cwd: project })
    assert.equal(listed.code, 0, listed.stderr)
    const { url } = JSON.parse(readFileSync(path.join(home, 'api.json'), 'utf8')) as { url: string }
    // the same node by URL: the data dir's token goes with it
    assert.equal(bac(['job', 'list', '--node', url], { env, cwd: project }).code, 0)
    const wrong = bac(['job', 'list', '--node', url, '--token', 'y'.repeat(43)], { env, cwd: project })
    assert.equal(wrong.code, 1)
    assert.match(wrong.stderr, /the node refused: the token is not this node's .*give the node's token with --token or \$BAC_TOKEN/)
    assert.match(wrong.stderr, /warning: --token is visible to every local user in the process list; prefer \$BAC_TOKEN/)
    // the same token from the environment: no warning
    const fromEnv = bac(['job', 'list', '--node', url], { env: { ...env, BAC_TOKEN: 'y'.repeat(43) }, cwd: project })
    assert.equal(fromEnv.code, 1)
    assert.doesNotMatch(fromEnv.stderr, /warning/)
    const none = bac(['job', 'list', '--node', url], { env: { BAC_HOME: path.join(work, 'elsewhere') }, cwd: project })
    assert.equal(none.code, 1)
    assert.match(none.stderr, /needs its token/)
  })

  it('makes its data dir for its user alone, and warns at start of one others may read', async () => {
    assert.equal(statSync(home).mode & 0o777, 0o700)
    const open = path.join(work, 'readable')
    mkdirSync(open, { mode: 0o755 })
    chmodSync(open, 0o755)
    const other = await startBac(['serve', '--api', '127.0.0.1:0', '--port', '0', '--no-pipelines', '--data-dir', open], /Ctrl-C to stop/, { cwd: project })
    try {
      await until(() => /warning: .*readable may be read by other users \(mode 755\); chmod 700/.test(other.stderr()), 'the warning')
    } finally {
      other.child.kill('SIGINT')
      await new Promise((resolve) => other.child.once('exit', resolve))
    }
  })

  it('cancels a run through the node: bac job cancel', () => {
    const missing = bac(['job', 'cancel', 'ffffffffffff'], { env, cwd: project })
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /no run has this id/)
  })

  it('refuses to serve its API beyond loopback without a token its clients will know', () => {
    const bare = bac(['serve', '--api', '0.0.0.0:0', '--port', '0', '--no-pipelines', '--data-dir', path.join(work, 'open')], { cwd: project })
    assert.equal(bare.code, 2)
    assert.match(bare.stderr, /--api 0\.0\.0\.0:0 listens beyond this machine: give the API a token/)
    const short = bac(['serve', '--api', '0.0.0.0:0', '--port', '0', '--no-pipelines', '--token', 'short', '--data-dir', path.join(work, 'open')], { cwd: project })
    assert.equal(short.code, 2)
    assert.match(short.stderr, /at least 32 printable characters/)
  })

  it('bac run takes a FIFO or a device as an input file nowhere: one clear line, at once', () => {
    const fifo = path.join(work, 'input.fifo')
    execFileSync('mkfifo', [fifo])
    for (const [file, kind] of [['/dev/zero', 'a character device'], [fifo, 'a FIFO']]) {
      const started = Date.now()
      // an embedded node on another data dir: the CLI's own run, not the serving node's
      const r = bac(['run', 'pipelines/sales-report.yml', '-i', `archive=${file as string}`, '--data-dir', path.join(work, 'local')], { env: { BAC_HOME: path.join(work, 'local') }, cwd: project })
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, new RegExp(`input 'archive': .*is ${kind as string}`))
      assert.doesNotMatch(r.stderr, /internal error|bug in bac/)
      assert.ok(Date.now() - started < 20_000)
    }
  })

  it('message send --file reads a regular file only: /dev/zero and a FIFO are refused at once', () => {
    const fifo = path.join(work, 'rows.fifo')
    execFileSync('mkfifo', [fifo])
    for (const [file, kind] of [['/dev/zero', 'a character device'], [fifo, 'a FIFO']]) {
      const started = Date.now()
      const r = bac(['message', 'send', 'downloads', '--file', file as string], { env, cwd: project })
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, new RegExp(`is ${kind as string}.*, not a regular file`))
      assert.ok(Date.now() - started < 20_000)
    }
  })
})
