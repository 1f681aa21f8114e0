import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startApi, type ApiServer } from '../../src/api/server.js'
import { connectNode, createValidator, type BacNode, type LogChunk, type RunEvent } from '../../src/index.js'
import { oneRun } from '../helpers/cli.js'
import { scratch, startNode, type NodeProcess } from '../network/helpers.js'

/**
 * One behaviour, two implementations: the data dir read in this process (localNode), the same
 * data dir served by `bac serve` and reached through its HTTP API (httpNode), and the local node
 * served by the HTTP API in this process (httpNode(startApi(localNode))). Every case runs
 * against each, and they must answer alike.
 */
const { dir, cleanup } = scratch('bac-node')
const dataDir = path.join(dir, 'data')
let served: NodeProcess
let runId = ''
const nodes: Array<[string, () => Promise<BacNode>]> = [
  ['local (the data dir)', async () => await connectNode(undefined, dataDir)],
  ['http (bac serve on it)', async () => await connectNode({ url: served.url, token: served.token }, dataDir)],
  ['over (the HTTP API here, over the local node)', async () => {
    const local = await connectNode(undefined, dataDir)
    const token = 'a-token-of-this-test'
    const api: ApiServer = await startApi({ node: local, access: { token }, port: 0 })
    const remote = await connectNode({ url: api.url, token }, dataDir)
    return { ...remote, close: async () => { await remote.close(); await api.close(); await local.close() } }
  }]
]

/** A run's events, read to its end. */
async function eventsOf (events: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const all: RunEvent[] = []
  for await (const event of events) all.push(event)
  return all
}

before(async () => {
  runId = oneRun(dir, dataDir, 'talk', 'name: talk\nsteps:\n  talk:\n    run: |\n      echo "said"\n      echo "warned" >&2\n      echo kept > {{ outputs.path }}/kept.txt\n')
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
      const list = await node.listRuns({ limit: 100 })
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
      const job = node.submitJob({ cids: [cid], command: `sed 's/Office Supplies/Booze/' -i /ipfs/${cid}` })
      const events = (await eventsOf(job.events)).map((e) => e.type)
      const end = await job.ended
      assert.equal(end.status, 'succeeded', end.reason)
      assert.deepEqual([events[0], events.at(-1)], ['run:start', 'run:end'])
      const out = path.join(dir, `job-${name.split(' ')[0] ?? ''}`)
      await node.getContent(`${end.resultCid ?? ''}/job/0/ipfs/${cid}`, out)
      assert.equal(readFileSync(out, 'utf8'), 'north,Booze\n')
    })

    it('starts a run by its text, follows it to its end, and lists it', async () => {
      const file = path.join(dir, `started-${name.split(' ')[0] ?? ''}.yml`)
      const text = 'name: started\nsteps:\n  hello:\n    run: echo hello > {{ outputs.path }}/hello.txt\n'
      writeFileSync(file, text)
      const id = await node.startRun({ text, file, outputsDir: null, noCache: true })
      const events = await eventsOf(node.follow(id))
      assert.deepEqual(events.map((e) => e.type), ['run:start', 'step:start', 'step:end', 'run:end'])
      const end = events.at(-1)
      assert.equal(end?.type === 'run:end' ? end.status : undefined, 'succeeded')
      // followed again after its end: its end, from the run store
      assert.deepEqual((await eventsOf(node.follow(id))).at(-1)?.type, 'run:end')
      assert.equal((await node.describeRun(id)).run.status, 'succeeded')
      assert.equal((await node.listRuns({ limit: 5 })).some((r) => r.id === id), true)
    })

    it('cancels a run it runs; a run that has ended cannot be', async () => {
      const file = path.join(dir, `long-${name.split(' ')[0] ?? ''}.yml`)
      const text = 'name: long\nsteps:\n  wait:\n    run: sleep 60\n'
      writeFileSync(file, text)
      const id = await node.startRun({ text, file, outputsDir: null, noCache: true })
      const seen: string[] = []
      for await (const event of node.follow(id)) {
        seen.push(event.type)
        if (event.type === 'step:start') assert.equal(await node.cancelRun(id.slice(0, 10)), id)
        if (event.type === 'run:end') assert.equal(event.status, 'cancelled')
      }
      assert.deepEqual([seen[0], seen.at(-1)], ['run:start', 'run:end'])
      await assert.rejects(node.cancelRun(id), /is cancelled: it is neither running nor waiting/)
    })

    it('runs a pipeline validated here: its events, then its result copied to this machine', async () => {
      const file = path.join(dir, `here-${name.split(' ')[0] ?? ''}.yml`)
      writeFileSync(file, 'name: here\ninputs:\n  word:\n    type: string\nsteps:\n  say:\n    run: echo {{ inputs.word }} > {{ outputs.path }}/said.txt\n')
      const pipeline = createValidator().validatePipelineFile(file).value
      assert.ok(pipeline !== undefined)
      const run = node.run({ pipeline, text: pipeline.text ?? '', inputs: { word: 'copied' }, cwd: dir, outputsDir: path.join(dir, `outputs-${name.split(' ')[0] ?? ''}`), noCache: true })
      const events = await eventsOf(run.events)
      const end = await run.ended
      assert.equal(end.status, 'succeeded', end.reason)
      assert.equal(events.at(-1)?.type, 'run:end')
      assert.equal(readFileSync(path.join(end.outputsDir ?? '', 'say', '0', 'said.txt'), 'utf8'), 'copied\n')
    })

    it('lists a folder of its store, and says a file is not one', async () => {
      const cid = (await node.describeRun(runId)).run.resultCid ?? ''
      assert.deepEqual((await node.listContent(cid)).map((e) => [e.name, e.type]), [['talk', 'directory']])
      const [kept] = await node.listContent(`${cid}/talk/0`)
      assert.deepEqual([kept?.name, kept?.type, kept?.size], ['kept.txt', 'file', 5])
      await assert.rejects(node.listContent(`${cid}/talk/0/kept.txt`), /is a file, not a folder/)
    })

    it('tells every run\'s events to a watcher, from now on, without what steps print', async () => {
      const controller = new AbortController()
      const seen: string[] = []
      const events = await node.watch(controller.signal)
      const watching = (async () => {
        for await (const event of events) {
          seen.push(event.type)
          if (event.type === 'run:end') controller.abort()
        }
      })()
      const file = path.join(dir, `watched-${name.split(' ')[0] ?? ''}.yml`)
      const text = 'name: watched\nsteps:\n  say:\n    run: echo said\n'
      writeFileSync(file, text)
      const id = await node.startRun({ text, file, outputsDir: null, noCache: true })
      await eventsOf(node.follow(id))
      await watching
      assert.deepEqual(seen, ['run:start', 'step:start', 'step:end', 'run:end'])
      assert.ok(Array.isArray(await node.triggers()))
    })

    it('says who it is and that it works', async () => {
      const health = await node.health()
      const info = await node.info()
      assert.equal(health.ok, true)
      assert.equal(health.id, info.id)
      assert.match(health.version, /^\d+\.\d+\.\d+/)
    })

    it('refuses messages for a topic no pipeline of it listens to', async () => {
      await assert.rejects(node.sendMessages('nobody-listens', { body: Buffer.from('{"a":1}'), contentType: 'application/json' }), /no pipeline on this node listens to topic|no bac node is serving/)
    })
  })
}
