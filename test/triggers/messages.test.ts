import { writeFileSync } from 'node:fs'
import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { tableFromArrays, tableFromJSON, tableToIPC } from 'apache-arrow'
import type { Pipeline, ServingNode } from '../../src/index.js'
import { api } from '../helpers/api.js'
import { Project, until } from './helpers.js'

async function post (
  node: ServingNode,
  topic: string,
  body: Uint8Array | string,
  contentType: string,
  headers: Record<string, string> = {}
): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await api(node, `/api/v1/messages/${topic}`, { method: 'POST', body, headers: { 'content-type': contentType, ...headers } })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

describe('message triggers over the HTTP API', () => {
  const p = new Project()
  let node: ServingNode
  let greet: Pipeline
  before(async () => {
    greet = p.pipeline('greet', `name: greet
on:
  message:
    topic: greetings
    schema:
      type: object
      required: [who]
      properties:
        who: { type: string }
        times: { type: integer, minimum: 1 }
steps:
  say:
    outputs: { out: out.txt }
    run: echo "hello {{ trigger.message.who }} x{{ default trigger.message.times 1 }}" > {{ outputs.out }}
`)
    const other = p.pipeline('audit', `name: audit
on:
  message: { topic: greetings }
steps:
  log:
    run: echo {{ json trigger.message }}
`)
    node = await p.start([greet, other], { api: { host: '127.0.0.1', port: 0 } })
  })
  after(async () => { await p.close() })

  const runsOf = (pipeline: string): number => p.runs().filter((r) => r.pipeline === pipeline).length

  it('starts one run per row of every pipeline on the topic, and records them before it answers 202', async () => {
    const r = await post(node, 'greetings', JSON.stringify([{ who: 'ann' }, { who: 'bob', times: 2 }]), 'application/json')
    assert.equal(r.status, 202, JSON.stringify(r.body))
    const runs = r.body.runs as Array<{ id: string, pipeline: string, row: number }>
    assert.equal(runs.length, 4)
    // on record the moment the answer came
    for (const run of runs) assert.ok(node.node.runs.getRun(run.id) !== undefined)
    await until(() => runs.every((run) => node.node.runs.getRun(run.id)?.status === 'succeeded'), 'the runs')
    const bob = runs.find((run) => run.pipeline === 'greet' && run.row === 1)
    assert.deepEqual(node.node.runs.getRun(bob?.id ?? '')?.trigger.message, { who: 'bob', times: 2 })
  })

  it('takes a single JSON object and NDJSON', async () => {
    const before = runsOf('greet')
    assert.equal((await post(node, 'greetings', JSON.stringify({ who: 'cy' }), 'application/json')).status, 202)
    assert.equal((await post(node, 'greetings', '{"who":"dee"}\n{"who":"eve"}\n', 'application/x-ndjson')).status, 202)
    assert.equal(runsOf('greet'), before + 3)
  })

  it('takes Apache Arrow IPC, stream and file formats, made by apache-arrow', async () => {
    const before = runsOf('greet')
    const table = tableFromArrays({ who: ['fay', 'gus', 'hal'], times: Int32Array.from([1, 2, 3]) })
    const stream = await post(node, 'greetings', tableToIPC(table, 'stream'), 'application/vnd.apache.arrow.stream')
    assert.equal(stream.status, 202, JSON.stringify(stream.body))
    const file = await post(node, 'greetings', tableToIPC(tableFromJSON([{ who: 'ivy', times: 5 }]), 'file'), 'application/vnd.apache.arrow.file')
    assert.equal(file.status, 202, JSON.stringify(file.body))
    assert.equal(runsOf('greet'), before + 4)
    const ids = (stream.body.runs as Array<{ id: string, pipeline: string, row: number }>).filter((r) => r.pipeline === 'greet')
    await until(() => ids.every((r) => node.node.runs.getRun(r.id)?.status === 'succeeded'), 'the Arrow runs')
    const gus = node.node.runs.getRun(ids.find((r) => r.row === 1)?.id ?? '')
    assert.deepEqual(gus?.trigger.message, { who: 'gus', times: 2 })
    const out = p.node?.node.store.cat(`${gus?.resultCid ?? ''}/say/merged/out.txt`)
    let text = ''
    for await (const chunk of out ?? []) text += Buffer.from(chunk).toString()
    assert.equal(text, 'hello gus x2\n')
  })

  it('rejects a batch with a bad row whole, naming the row and field, and queues nothing', async () => {
    const before = p.runs().length
    const r = await post(node, 'greetings', JSON.stringify([{ who: 'ok' }, { who: 'ok2' }, { who: 'x', times: 0 }]), 'application/json')
    assert.equal(r.status, 400)
    assert.match(String(r.body.error), /row 2: field 'times' must be >= 1/)
    const missing = await post(node, 'greetings', tableToIPC(tableFromJSON([{ name: 'no who' }]), 'stream'), 'application/vnd.apache.arrow.stream')
    assert.equal(missing.status, 400)
    assert.match(String(missing.body.error), /row 0: field 'who' is required/)
    assert.equal(p.runs().length, before)
  })

  it('answers clearly for an unknown topic, a wrong content type, a broken body', async () => {
    const unknown = await post(node, 'nothing-here', '{}', 'application/json')
    assert.equal(unknown.status, 404)
    assert.match(String(unknown.body.error), /no pipeline on this node listens to topic 'nothing-here' \(topics: greetings\)/)
    const type = await post(node, 'greetings', 'who=x', 'application/x-www-form-urlencoded')
    assert.equal(type.status, 415)
    assert.match(String(type.body.error), /application\/json/)
    const broken = await post(node, 'greetings', '{"who":', 'application/json')
    assert.equal(broken.status, 400)
    assert.match(String(broken.body.error), /not JSON/)
    const arrow = await post(node, 'greetings', 'not arrow at all', 'application/vnd.apache.arrow.stream')
    assert.equal(arrow.status, 400)
  })

  it('does not queue a batch twice under the same idempotency key', async () => {
    const body = JSON.stringify([{ who: 'once' }])
    const first = await post(node, 'greetings', body, 'application/json', { 'idempotency-key': 'k-1' })
    assert.equal(first.status, 202)
    const again = await post(node, 'greetings', body, 'application/json', { 'idempotency-key': 'k-1' })
    assert.equal(again.status, 200)
    assert.equal(again.body.duplicate, true)
    assert.deepEqual(again.body.runs, first.body.runs)
    const other = await post(node, 'greetings', JSON.stringify([{ who: 'a' }, { who: 'b' }]), 'application/json', { 'idempotency-key': 'k-1' })
    assert.equal(other.status, 200, 'a batch is known by its key')
  })

  it('serves the node and its runs', async () => {
    const info = await (await api(node, '/api/v1/node')).json() as { id: string, topics: string[] }
    assert.equal(info.id, node.id)
    assert.deepEqual(info.topics, ['greetings'])
    const run = p.runs()[0]
    const got = await api(node, `/api/v1/runs/${run?.id ?? ''}`)
    assert.equal(got.status, 200)
    assert.equal(((await got.json()) as { id: string }).id, run?.id)
    assert.equal((await api(node, '/api/v1/runs/ffffffffffff')).status, 404)
    assert.equal((await api(node, '/nope')).status, 404)
    assert.ok(path.isAbsolute(p.dataDir))
  })
})

describe('message fields and the node\'s own files', () => {
  const p = new Project()
  let node: ServingNode
  before(async () => {
    const read = p.pipeline('read', `name: read
on:
  message: { topic: read }
inputs:
  f: { type: file, default: "{{ trigger.message.f }}" }
steps:
  count:
    run: wc -c < {{ inputs.f.path }}
`)
    node = await p.start([read], { api: { host: '127.0.0.1', port: 0 } })
  })
  after(async () => { await p.close() })

  it('refuses a field that names the node\'s own files (its token, its runs), even inside an allowed folder', async () => {
    // the data dir lies inside the project folder the node allows
    for (const own of ['api.json', 'node-id', 'runs.db', 'blocks']) {
      const r = await post(node, 'read', JSON.stringify({ f: path.join(p.dataDir, own) }), 'application/json')
      assert.equal(r.status, 400, `${own}: ${JSON.stringify(r.body)}`)
      assert.match(String(r.body.error), /row 0: input 'f': .* is not allowed: it lies in .*, which is the node's own \(its data dir/)
    }
    const allowed = await post(node, 'read', JSON.stringify({ f: path.join(p.dir, 'pipelines', 'read.yml') }), 'application/json')
    assert.equal(allowed.status, 202, JSON.stringify(allowed.body))
  })
})

describe('following a run started by a message', () => {
  const p = new Project()
  let node: ServingNode
  before(async () => {
    const gated = p.pipeline('gated', `name: gated
on:
  message:
    topic: gated
    schema: { type: object, required: [gate], properties: { gate: { type: string } } }
steps:
  wait:
    run: while [ ! -e {{ trigger.message.gate }} ]; do sleep 0.05; done; echo opened
`)
    // one run of the pipeline at a time: a second message's run waits in the queue
    node = await p.start([gated], { api: { host: '127.0.0.1', port: 0 }, concurrency: 1 })
  })
  after(async () => { await p.close() })

  /** The run's events as the API streams them: the answer once its head came, and its events once it ended. */
  const follow = async (id: string): Promise<{ events: Promise<Array<Record<string, unknown>>> }> => {
    const res = await api(node, `/api/v1/runs/${id}/events`)
    assert.equal(res.status, 200)
    return { events: (async () => (await res.text()).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>))() }
  }

  it('streams its events as it runs, and from the queue as it starts, to its real end (not the status it had when asked)', async () => {
    const gates = [path.join(p.dir, 'gate-1'), path.join(p.dir, 'gate-2')]
    const sent = await post(node, 'gated', JSON.stringify(gates.map((gate) => ({ gate }))), 'application/json')
    assert.equal(sent.status, 202, JSON.stringify(sent.body))
    const [first, second] = (sent.body.runs as Array<{ id: string }>).map((r) => r.id)
    await until(() => node.node.runs.getRun(first ?? '')?.status === 'running', 'the first run to start')
    assert.equal(node.node.runs.getRun(second ?? '')?.status, 'queued')
    // each run is followed while it cannot end: the first runs, held by its gate; the second
    // waits in the queue, and once it starts, its gate holds it
    const firstStream = await follow(first ?? '')
    const secondHead = follow(second ?? '')
    writeFileSync(gates[0] ?? '', '')
    const secondStream = await secondHead
    writeFileSync(gates[1] ?? '', '')
    for (const [i, stream] of [await firstStream.events, await secondStream.events].entries()) {
      const types = stream.map((e) => e.type)
      assert.equal(types.filter((t) => t === 'run:end').length, 1, `run ${i + 1}: ${types.join(' ')}`)
      assert.equal(types.at(-1), 'run:end')
      assert.equal(stream.at(-1)?.status, 'succeeded', `run ${i + 1}: ${JSON.stringify(stream.at(-1))}`)
      assert.ok(types.includes('run:start') && types.includes('step:end'), `run ${i + 1} streamed no start or step: ${types.join(' ')}`)
    }
  })
})
