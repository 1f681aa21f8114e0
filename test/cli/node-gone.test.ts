import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { api } from '../helpers/api.js'
import { bacAsync } from '../helpers/cli.js'
import { scratch, startNode, TOKEN, until } from '../network/helpers.js'

describe('a node that goes away, and one that is well', () => {
  const { dir, cleanup } = scratch('node-gone')
  after(cleanup)

  it('answers GET /api/v1/health with what it is busy with', async () => {
    const node = await startNode(path.join(dir, 'well'), ['--allow-path', dir])
    try {
      const res = await api(node, '/api/v1/health')
      assert.equal(res.status, 200)
      const health = await res.json() as { ok: boolean, id: string, version: string, runs: { running: number, queued: number } }
      assert.equal(health.ok, true)
      assert.equal(health.id, node.id)
      assert.match(health.version, /^\d+\.\d+\.\d+/)
      assert.deepEqual(health.runs, { running: 0, queued: 0 })
      assert.equal((await api(node, '/api/v1/health', { method: 'POST' })).status, 405)
    } finally {
      await node.stop()
    }
  })

  it('bac run following a node that is killed says the node went away, in one line, not an internal error', async () => {
    const node = await startNode(path.join(dir, 'doomed'), ['--allow-path', dir])
    const file = path.join(dir, 'long.yml')
    writeFileSync(file, 'name: long\nsteps:\n  wait:\n    run: sleep 30\n')
    const following = bacAsync(['run', file, '--node', node.url], { cwd: dir, env: { BAC_TOKEN: TOKEN }, timeoutMs: 60_000 })
    await until(async () => {
      const health = await (await api(node, '/api/v1/health')).json() as { runs: { running: number } }
      return health.runs.running === 1
    }, 'the run to start on the node')
    node.child.kill('SIGKILL')
    const r = await following
    assert.equal(r.code, 1, r.stderr)
    assert.doesNotMatch(r.stderr, /internal error|This is a bug/)
    // whether the stream broke, or the next request found no one: one line naming the node
    const url = node.url.replace(/[/.]/g, '\\$&')
    assert.match(r.stderr, new RegExp(`^bac: (the bac node at ${url} went away before it finished answering|no bac node answers at ${url}) \\(`, 'm'))
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('bac: ')).length, 1, r.stderr)
  })
})
