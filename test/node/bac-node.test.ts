import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { connectNode, type BacNode, type LogChunk } from '../../src/index.js'
import { bac } from '../helpers/cli.js'
import { scratch, startNode, type NodeProcess } from '../network/helpers.js'

/**
 * One behaviour, two implementations: the data dir read in this process (localNode) and the
 * same data dir served by `bac serve` and reached through its HTTP API (httpNode). Every case
 * runs against both, and both must answer alike.
 */
const { dir, cleanup } = scratch('bac-node')
const dataDir = path.join(dir, 'data')
let served: NodeProcess
let runId = ''
const nodes: Array<[string, () => Promise<BacNode>]> = [
  ['local (the data dir)', async () => await connectNode(undefined, dataDir)],
  ['http (bac serve on it)', async () => await connectNode({ url: served.url, token: served.token }, dataDir)]
]

before(async () => {
  mkdirSync(dataDir, { recursive: true })
  const file = path.join(dir, 'talk.yml')
  writeFileSync(file, 'name: talk\nsteps:\n  talk:\n    run: |\n      echo "said"\n      echo "warned" >&2\n      echo kept > {{ outputs.path }}/kept.txt\n')
  const r = bac(['run', file, '--json'], { cwd: dir, env: { BAC_HOME: dataDir } })
  assert.equal(r.code, 0, r.stderr)
  runId = (r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { type: string, runId: string }).find((e) => e.type === 'run:end'))?.runId ?? ''
  served = await startNode(dataDir, ['--allow-path', dir], { cwd: dir })
})
after(async () => {
  await served?.stop()
  cleanup()
})

for (const [name, open] of nodes) {
  describe(`a BacNode: ${name}`, () => {
    let node: BacNode
    before(async () => { node = await open() })
    after(async () => { await node.close() })

    it('lists and describes a run, by its id or a prefix', async () => {
      const list = await node.listRuns({ limit: 10 })
      const listed = list.find((r) => r.id === runId)
      assert.equal(listed?.status, 'succeeded')
      const { run, steps, executions } = await node.describeRun(runId.slice(0, 8))
      assert.equal(run.id, runId)
      assert.deepEqual(steps.map((s) => [s.stepId, s.status]), [['talk', 'succeeded']])
      assert.deepEqual(executions.map((e) => [e.stepId, e.attempt, e.exitCode]), [['talk', 1, 0]])
      assert.equal((await node.listRuns({ cid: run.resultCid ?? '' })).map((r) => r.id).includes(runId), true)
    })

    it('says a run it does not have is not there', async () => {
      await assert.rejects(node.describeRun('nosuchrun'), /no run has this id/)
    })

    it('gives what the steps printed', async () => {
      const chunks: LogChunk[] = []
      await node.logs(runId, {}, (c) => { chunks.push(c) })
      assert.equal(chunks.filter((c) => c.stream === 'stdout').map((c) => c.text).join(''), 'said\n')
      assert.equal(chunks.filter((c) => c.stream === 'stderr').map((c) => c.text).join(''), 'warned\n')
    })

    it('gives the run\'s signed provenance record', async () => {
      const envelope = await node.provenance(runId)
      assert.equal(envelope.payloadType, 'application/vnd.in-toto+json')
      assert.equal(envelope.signatures.length, 1)
    })

    it('adds content of this machine and gives it back, as a file and written out', async () => {
      const file = path.join(dir, `in-${name.split(' ')[0] ?? ''}.txt`)
      writeFileSync(file, 'the same bytes\n')
      const cid = await node.addContent(file)
      // the CID ipfs add gives these bytes, on either side
      assert.equal(cid, 'QmXA5kHcNXDErL3qqeX6s2o652uRTk9vRqjg8cZ31juuae')
      let text = ''
      for await (const chunk of node.catContent(cid)) text += Buffer.from(chunk).toString()
      assert.equal(text, 'the same bytes\n')
      const target = path.join(dir, `out-${name.split(' ')[0] ?? ''}`)
      await node.getContent(cid, target)
      assert.equal(readFileSync(target, 'utf8'), 'the same bytes\n')
      await assert.rejects(async () => { for await (const _ of node.catContent((await node.describeRun(runId)).run.resultCid ?? '')) {} }, /is a folder, not a file/)
    })

    it('runs the seed\'s job on its content', async () => {
      const file = path.join(dir, `seed-${name.split(' ')[0] ?? ''}.csv`)
      writeFileSync(file, 'north,Office Supplies\n')
      const cid = await node.addContent(file)
      const events: string[] = []
      const end = await node.submitJob({ cids: [cid], command: `sed 's/Office Supplies/Booze/' -i /ipfs/${cid}` }, { onEvent: (e) => { events.push(e.type) } })
      assert.equal(end.status, 'succeeded', end.reason)
      assert.deepEqual([events[0], events.at(-1)], ['run:start', 'run:end'])
      const out = path.join(dir, `job-${name.split(' ')[0] ?? ''}`)
      await node.getContent(`${end.resultCid ?? ''}/job/0/ipfs/${cid}`, out)
      assert.equal(readFileSync(out, 'utf8'), 'north,Booze\n')
    })
  })
}
