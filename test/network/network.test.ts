import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { connectNode, type BacNode } from '../../src/index.js'
import { api } from '../helpers/api.js'
import { bac as run } from '../helpers/cli.js'
import { processes } from '../helpers/processes.js'
import { connectedPeers, scratch, startDevstack, startNode, TOKEN, until, type NodeProcess } from './helpers.js'

/** The CLI with the nodes' token ($BAC_TOKEN), as a user of these nodes runs it. */
const bac = (args: readonly string[], options: Parameters<typeof run>[1] = {}): ReturnType<typeof run> => run(args, { ...options, env: { BAC_TOKEN: TOKEN, ...options.env } })

/** A run request for a pipeline file the test wrote: its text, where it stands, the folder its paths are relative to. */
const request = (file: string, dir: string): { text: string, file: string, cwd: string, outputsDir: string } => ({
  text: readFileSync(file, 'utf8'),
  file,
  cwd: dir,
  outputsDir: path.join(dir, 'outputs')
})

function pipeline (dir: string, name: string, body: string): string {
  const file = path.join(dir, `${name}.yml`)
  writeFileSync(file, `name: ${name}\n${body}`)
  return file
}

/** Runs a pipeline on a node through the CLI and returns the run:end event and the step:start events. */
function runOn (
  url: string,
  file: string,
  cwd: string
): { end: { status: string, resultCid?: string, runId: string, reason?: string }, starts: Array<{ stepId: string, node: string }>, code: number | null, stderr: string } {
  const result = bac(['run', file, '--node', url, '--json'], { cwd })
  const events = result.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { type: string, stepId: string, node: string, status: string, runId: string, resultCid?: string })
  const end = events.find((e) => e.type === 'run:end')
  assert.ok(end !== undefined, `no run:end from bac run:\n${result.stdout}\n${result.stderr}`)
  return { end, starts: events.filter((e) => e.type === 'step:start'), code: result.code, stderr: result.stderr }
}

describe('a devstack of 3 nodes in separate processes', () => {
  const { dir, cleanup } = scratch('devstack')
  let stack: Awaited<ReturnType<typeof startDevstack>>
  before(async () => {
    stack = await startDevstack(path.join(dir, 'stack'), 3, {}, ['--allow-path', dir])
    const first = stack.nodes[0] as NodeProcess
    await until(async () => (await connectedPeers(first)).length === 2, 'the first node to know both peers')
  })
  after(async () => {
    await stack.stop()
    cleanup()
  })

  it('runs a nodes: 3 step once on each node: three per-node outputs and one merged result', async () => {
    const file = pipeline(dir, 'spread', `steps:
  hello:
    nodes: 3
    run: |
      echo "same on every node" > {{ outputs.path }}/same.txt
      mkdir -p {{ outputs.path }}/by-node && echo "$PPID" > {{ outputs.path }}/by-node/$(basename "$PWD").txt
  count:
    needs: [hello]
    run: ls {{ steps.hello.outputs.path }}/by-node | wc -l > {{ outputs.path }}/count.txt
`)
    const first = stack.nodes[0] as NodeProcess
    const { end, starts } = runOn(first.url, file, dir)
    assert.equal(end.status, 'succeeded', end.reason)
    const ran = new Set(starts.filter((s) => s.stepId === 'hello').map((s) => s.node))
    assert.deepEqual([...ran].sort(), stack.nodes.map((n) => n.id).sort(), 'each node ran the step once')
    const out = path.join(dir, 'outputs', end.runId)
    // one folder per node, named by its place (0, 1, 2 in the order of their CIDs), not by node id
    assert.deepEqual(readdirSync(path.join(out, 'hello')).sort(), ['0', '1', '2', 'merged'])
    for (const k of ['0', '1', '2']) {
      assert.equal(readFileSync(path.join(out, 'hello', k, 'same.txt'), 'utf8'), 'same on every node\n')
      assert.equal(readdirSync(path.join(out, 'hello', k, 'by-node')).length, 1)
    }
    // the merged view holds the shared file once and every node's own file
    assert.equal(readFileSync(path.join(out, 'hello', 'merged', 'same.txt'), 'utf8'), 'same on every node\n')
    assert.equal(readdirSync(path.join(out, 'hello', 'merged', 'by-node')).length, 3)
    assert.equal(readFileSync(path.join(out, 'count', 'merged', 'count.txt'), 'utf8').trim(), '3')
    // the result CID is that of the folder written out: adding it anew gives the same CID
    const added = bac(['ipfs', 'add', out, '--data-dir', path.join(dir, 'check')])
    assert.equal(added.stdout.trim(), end.resultCid)
    // the record holds the attestations the two peers signed of the attempts they ran, and verifies
    const verified = bac(['verify', end.resultCid ?? '', '--json', '--data-dir', first.dataDir, ...stack.nodes.flatMap((n) => ['--trust', n.peerId])])
    const report = JSON.parse(verified.stdout) as { ok: boolean, checked: string[], problems: string[] }
    assert.equal(report.ok, true, report.problems.join('\n'))
    const attested = report.checked.filter((line) => /^attempt:hello#1: attested by /.test(line)).map((line) => line.split(' ').pop())
    assert.deepEqual(attested.sort(), stack.nodes.slice(1).map((n) => n.peerId).sort())
    // and a peer the checking node does not trust does not count
    const partial = bac(['verify', end.resultCid ?? '', '--json', '--data-dir', first.dataDir])
    assert.equal(partial.code, 1)
    assert.equal((JSON.parse(partial.stdout) as { problems: string[] }).problems.filter((p) => /which this node does not trust/.test(p)).length, 2)
  })

  it('gives the same result CID on the devstack as an embedded node gives for the same work', async () => {
    const file = pipeline(dir, 'anywhere', `steps:
  make:
    run: printf 'made\\n' > {{ outputs.path }}/made.txt
  use:
    needs: make
    run: tr a-z A-Z < {{ steps.make.outputs.path }}/made.txt > {{ outputs.path }}/upper.txt
`)
    const first = stack.nodes[0] as NodeProcess
    const { end } = runOn(first.url, file, dir)
    assert.equal(end.status, 'succeeded', end.reason)
    const embedded = run(['run', file, '--outputs', path.join(dir, 'embedded-out')], { cwd: dir, env: { BAC_HOME: path.join(dir, 'embedded-home') } })
    assert.equal(embedded.code, 0, embedded.stderr)
    assert.equal(embedded.stdout.trim(), end.resultCid)
  })

  it('acts on a node\'s runs through its API: job list, describe, logs (-f while the run goes on) and get', async () => {
    const file = pipeline(dir, 'talk', `steps:
  talk:
    nodes: 3
    merge: per-node
    run: |
      echo "line one"
      echo "a warning" >&2
      sleep 1
      echo "line two"
      echo "kept" > {{ outputs.path }}/kept.txt
`)
    const first = stack.nodes[0] as NodeProcess
    const runId = await (await connectNode(first, first.dataDir)).startRun(request(file, dir))
    // follows the run from while it runs to its end, from a process that only knows the URL
    const followed = bac(['job', 'logs', runId, '-f', '--node', first.url])
    assert.equal(followed.code, 0, followed.stderr)
    assert.equal(followed.stdout.match(/^talk \| line one$/gm)?.length, 3, followed.stdout)
    assert.equal(followed.stdout.match(/^talk \| line two$/gm)?.length, 3, followed.stdout)
    assert.equal(followed.stdout.match(/^talk ! a warning$/gm)?.length, 3, followed.stdout)
    const logs = bac(['job', 'logs', runId, '--node', first.url])
    for (const node of stack.nodes) assert.match(logs.stdout, new RegExp(`== talk \\(attempt 1 on ${node.id}\\) ==\nline one\nline two\n! a warning\n`))
    const listed = bac(['job', 'list', '--json', '--node', first.url])
    assert.equal(listed.code, 0, listed.stderr)
    const run = (JSON.parse(listed.stdout) as Array<{ id: string, status: string, resultCid?: string }>).find((r) => r.id === runId)
    assert.equal(run?.status, 'succeeded')
    const described = bac(['job', 'describe', runId.slice(0, 10), '--node', first.url])
    assert.equal(described.code, 0, described.stderr)
    for (const node of stack.nodes) assert.match(described.stdout, new RegExp(`attempt 1 on ${node.id} ${node.peerId} \\(process\\): exit 0`))
    // get: the result's blocks come over the API as a CAR, checked, and are written out here
    const target = path.join(dir, 'got')
    const got = bac(['job', 'get', runId, target, '--node', first.url])
    assert.equal(got.code, 0, got.stderr)
    for (const k of ['0', '1', '2']) assert.equal(readFileSync(path.join(target, 'talk', k, 'kept.txt'), 'utf8'), 'kept\n')
    assert.equal(bac(['ipfs', 'add', target, '--data-dir', path.join(dir, 'check-get')]).stdout.trim(), run?.resultCid)
    // a run the node does not have: said so, exit 1, no stack trace
    const missing = bac(['job', 'describe', 'run-nosuchrun', '--node', first.url])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /no run has this id/)
    assert.doesNotMatch(missing.stderr, /\bat .*\.js:\d+/)
  })

  it('brings a peer\'s large outputs back whole (the block stream), and sends large inputs to it', async () => {
    const file = pipeline(dir, 'large', `steps:
  make:
    runs-on: devstack=2
    run: |
      head -c 7000000 /dev/urandom > {{ outputs.path }}/big.bin
      sha256sum < {{ outputs.path }}/big.bin > {{ outputs.path }}/big.sum
  check:
    needs: [make]
    runs-on: devstack=3
    run: sha256sum < {{ steps.make.outputs.path }}/big.bin | cmp - {{ steps.make.outputs.path }}/big.sum && echo same > {{ outputs.path }}/ok
`)
    const first = stack.nodes[0] as NodeProcess
    const { end, starts } = runOn(first.url, file, dir)
    assert.equal(end.status, 'succeeded', end.reason)
    assert.deepEqual(starts.map((s) => s.node), [stack.nodes[1]?.id, stack.nodes[2]?.id])
    const out = path.join(dir, 'outputs', end.runId)
    assert.equal(readFileSync(path.join(out, 'check', 'merged', 'ok'), 'utf8'), 'same\n')
    const sum = spawnSync('sha256sum', { input: readFileSync(path.join(out, 'make', 'merged', 'big.bin')) }).stdout.toString()
    assert.equal(sum, readFileSync(path.join(out, 'make', 'merged', 'big.sum'), 'utf8'))
  })

  it('runs a vm step on a peer, with an earlier step\'s outputs from a third node inside its VM', async () => {
    const file = pipeline(dir, 'remote-vm', `steps:
  make:
    runs-on: devstack=3
    run: echo "made on three" > {{ outputs.path }}/m.txt
  inside:
    needs: [make]
    runs-on: devstack=2
    executor: vm
    run: |
      cat {{ steps.make.outputs.path }}/m.txt > {{ outputs.path }}/seen.txt
      uname -r >> {{ outputs.path }}/seen.txt
`)
    const first = stack.nodes[0] as NodeProcess
    const { end, starts } = runOn(first.url, file, dir)
    assert.equal(end.status, 'succeeded', end.reason)
    assert.deepEqual(starts.map((s) => s.node), [stack.nodes[2]?.id, stack.nodes[1]?.id])
    const seen = readFileSync(path.join(dir, 'outputs', end.runId, 'inside', 'merged', 'seen.txt'), 'utf8').split('\n')
    assert.equal(seen[0], 'made on three')
    assert.notEqual(seen[1], spawnSync('uname', ['-r']).stdout.toString().trim(), 'the step ran on the host\'s kernel, not in a VM')
  })

  it('sends a vm step only to a node that holds its image, and says which image none holds', async () => {
    const first = stack.nodes[0] as NodeProcess
    const peers = await (await api(first, '/api/v1/peers')).json() as Array<{ advert: { images?: string[] } }>
    for (const peer of peers) assert.ok(peer.advert.images?.includes('base') === true && peer.advert.images.some((i) => i.startsWith('sha256:')), JSON.stringify(peer.advert))
    const file = pipeline(dir, 'no-image', `steps:
  boot:
    runs-on: devstack=2
    executor: vm
    image: not-built-anywhere
    run: echo never
`)
    const { end } = runOn(first.url, file, dir)
    assert.equal(end.status, 'failed')
    assert.match(end.reason ?? '', /none has the vm executor with the image 'not-built-anywhere' labelled devstack=2/)
  })

  it('runs a pipeline on another executor through the node\'s API (bac run --node --executor)', () => {
    const file = pipeline(dir, 'elsewhere', 'steps:\n  where:\n    run: echo "home=$HOME"\n')
    const first = stack.nodes[0] as NodeProcess
    const r = bac(['run', file, '--node', first.url, '--json', '--executor', 'sandbox'], { cwd: dir })
    assert.equal(r.code, 0, r.stderr)
    const events = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { type: string, executor?: string, text?: string })
    assert.deepEqual(events.filter((e) => e.type === 'step:start').map((e) => e.executor), ['sandbox'])
    const bad = bac(['run', file, '--node', first.url, '--executor', 'docker'], { cwd: dir })
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--executor must be one of process, sandbox, vm, got 'docker'/)
  })

  it('lists the peers with their labels, executors and load', () => {
    const first = stack.nodes[0] as NodeProcess
    const listed = bac(['node', 'list', '--node', first.url])
    assert.equal(listed.code, 0, listed.stderr)
    for (const node of stack.nodes) assert.match(listed.stdout, new RegExp(node.id))
    assert.match(listed.stdout, /devstack=2/)
    assert.match(listed.stdout, /process,sandbox,vm\[[^\]]*\bbase\b[^\]]*\]/)
  })

  it('keeps a path clash apart: merged fails and says so, merge: per-node keeps each node', async () => {
    const clash = pipeline(dir, 'clash', `steps:
  who:
    nodes: 3
    run: echo "$PWD" > {{ outputs.path }}/who.txt
`)
    const first = stack.nodes[0] as NodeProcess
    const failed = runOn(first.url, clash, dir)
    assert.equal(failed.end.status, 'failed')
    assert.match(failed.end.reason ?? '', /clash.*who\.txt|who\.txt.*differs/)
    assert.match(failed.end.reason ?? '', /merge: per-node/)
    const kept = pipeline(dir, 'kept', `steps:
  who:
    nodes: 3
    merge: per-node
    run: echo "$PWD" > {{ outputs.path }}/who.txt
`)
    const ok = runOn(first.url, kept, dir)
    assert.equal(ok.end.status, 'succeeded')
    const out = path.join(dir, 'outputs', ok.end.runId, 'who')
    assert.deepEqual(readdirSync(out).sort(), ['0', '1', '2'])
    const written = ['0', '1', '2'].map((k) => readFileSync(path.join(out, k, 'who.txt'), 'utf8'))
    assert.equal(new Set(written).size, 3, 'each node kept its own')
  })

  it('shares its cache: a pipeline run on node 1, then on node 2, runs no step on node 2, and each record verifies on another node', async () => {
    const [first, second, third] = stack.nodes as [NodeProcess, NodeProcess, NodeProcess]
    const token = `${process.pid}-${Date.now()}`
    const file = pipeline(dir, 'shared', `steps:
  make:
    nodes: 1
    run: printf '${token}\\n' > {{ outputs.path }}/made.txt
  upper:
    needs: make
    runs-on: [devstack=3]
    run: tr a-z A-Z < {{ steps.make.outputs.path }}/made.txt > {{ outputs.path }}/upper.txt
`)
    const once = runOn(first.url, file, dir)
    assert.equal(once.end.status, 'succeeded', once.end.reason)
    assert.deepEqual(once.starts.map((s) => [s.stepId, s.node]).find(([id]) => id === 'upper'), ['upper', third.id], 'upper ran on node 3')
    const again = runOn(second.url, file, dir)
    assert.equal(again.end.status, 'succeeded', again.end.reason)
    assert.equal(again.end.resultCid, once.end.resultCid, 'the same result')
    assert.deepEqual(again.starts, [], 'node 2 ran no step, here or on a peer')
    const described = JSON.parse(bac(['job', 'describe', again.end.runId, '--json', '--node', second.url]).stdout) as {
      steps: Array<{ stepId: string, status: string, cachedFrom?: Record<string, { node: string, runId: string, attestation?: unknown }> }>
      executions: unknown[]
    }
    assert.deepEqual(described.executions, [])
    // each step is the work of the node that ran it, whoever answered: node 1 passes on node 3's signature for upper
    const maker: Record<string, string> = { make: first.peerId, upper: third.peerId }
    for (const step of described.steps) {
      assert.equal(step.status, 'cached', step.stepId)
      assert.equal(step.cachedFrom?.['-']?.node, maker[step.stepId], `${step.stepId} is the work of the node that ran it`)
      assert.equal(step.cachedFrom?.['-']?.runId, once.end.runId)
      assert.ok(step.cachedFrom?.['-']?.attestation !== undefined, 'with that node\'s signature')
    }
    // run again on node 2, it finds them in its own cache now, and still says they are node 1's
    const thrice = runOn(second.url, file, dir)
    assert.deepEqual(thrice.starts, [])
    const later = JSON.parse(bac(['job', 'describe', thrice.end.runId, '--json', '--node', second.url]).stdout) as typeof described
    for (const step of later.steps) {
      assert.equal(step.cachedFrom?.['-']?.node, maker[step.stepId], `${step.stepId} is still that node's`)
      assert.ok(step.cachedFrom?.['-']?.attestation !== undefined)
    }
    // node 2's record verifies on node 2 once node 1 (whose answers it holds) is trusted, and not before
    const cid = again.end.resultCid ?? ''
    const untrusting = bac(['verify', cid, '--data-dir', second.dataDir])
    assert.equal(untrusting.code, 1, untrusting.stdout)
    assert.match(untrusting.stdout, new RegExp(`signed by (${first.peerId}|${third.peerId}), which this node does not trust`))
    const verified = bac(['verify', cid, '--data-dir', second.dataDir, '--trust', first.peerId, '--trust', third.peerId])
    assert.equal(verified.code, 0, verified.stdout + verified.stderr)
    // node 1's record, checked on node 3 (which holds none of its runs): its signer and the peers that ran its steps are trusted there
    const envelope = bac(['provenance', once.end.runId, '--envelope', '--data-dir', first.dataDir])
    assert.equal(envelope.code, 0, envelope.stderr)
    // the API serves the same record
    const served = await api(first, `/api/v1/runs/${once.end.runId}/provenance`)
    assert.equal(served.status, 200)
    assert.deepEqual(await served.json(), JSON.parse(envelope.stdout))
    assert.equal((await api(first, '/api/v1/runs/000000000000/provenance')).status, 404)
    const recordFile = path.join(dir, 'record.json')
    writeFileSync(recordFile, envelope.stdout)
    const elsewhere = bac(['verify', cid, '--record', recordFile, '--data-dir', third.dataDir, ...stack.nodes.flatMap((n) => ['--trust', n.peerId])])
    assert.equal(elsewhere.code, 0, elsewhere.stdout + elsewhere.stderr)
    assert.match(elsewhere.stderr, new RegExp(`the record: signed by ${first.peerId}`))
  })

  it('acts on $BAC_NODE in every content, job and node command: ipfs add, cat, get; job submit, list, describe, logs, get, cancel; provenance, node list, message send', () => {
    const first = stack.nodes[0] as NodeProcess
    // a CLI with a data dir of its own, which must stay untouched: every command goes to the node
    const env = { BAC_NODE: first.url, BAC_HOME: path.join(dir, 'cli-home') }
    const data = path.join(dir, 'seed.csv')
    writeFileSync(data, 'Region,Category\nnorth,Office Supplies\n')
    const added = bac(['ipfs', 'add', data], { env })
    assert.equal(added.code, 0, added.stderr)
    const cid = added.stdout.trim()
    assert.equal(bac(['ipfs', 'cat', cid], { env }).stdout, 'Region,Category\nnorth,Office Supplies\n')
    const submitted = bac(['job', 'submit', `--cids=${cid}`, `--commands=sed 's/Office Supplies/Booze/' -i /ipfs/${cid}`], { env })
    assert.equal(submitted.code, 0, submitted.stderr)
    const id = submitted.stdout.trim()
    assert.match(submitted.stderr, new RegExp(`job ${id} on ${first.url.replace(/[/.]/g, '\\$&')}`))
    const listed = JSON.parse(bac(['job', 'list', '--json'], { env }).stdout) as Array<{ id: string, status: string }>
    assert.equal(listed.find((r) => r.id === id)?.status, 'succeeded')
    const out = path.join(dir, 'submitted-out')
    assert.equal(bac(['job', 'get', id, out], { env }).code, 0)
    assert.equal(readFileSync(path.join(out, 'job', '0', 'ipfs', cid), 'utf8'), 'Region,Category\nnorth,Booze\n')
    const described = JSON.parse(bac(['job', 'describe', id, '--json'], { env }).stdout) as { id: string, steps: Array<{ stepId: string, status: string }> }
    assert.deepEqual([described.id, described.steps.map((st) => st.status)], [id, ['succeeded']])
    assert.equal(bac(['job', 'logs', id], { env }).code, 0)
    const cancelled = bac(['job', 'cancel', id], { env })
    assert.match(cancelled.stderr, new RegExp(`the node refused: run ${id} is succeeded: it is neither running nor waiting on this node`))
    assert.equal(Array.isArray((JSON.parse(bac(['provenance', id], { env }).stdout) as { subject?: unknown }).subject), true)
    const listedNodes = JSON.parse(bac(['node', 'list', '--json'], { env }).stdout) as { node: { id: string }, peers: unknown[] }
    assert.deepEqual([listedNodes.node.id, listedNodes.peers.length], [first.id, stack.nodes.length - 1])
    const message = bac(['message', 'send', 'nobody-listens', '--field', 'a=b'], { env })
    assert.match(message.stderr, /the node refused: no pipeline on this node listens to topic 'nobody-listens'/)
    const got = path.join(dir, 'got-seed.csv')
    assert.equal(bac(['ipfs', 'get', cid, got], { env }).code, 0)
    assert.equal(readFileSync(got, 'utf8'), 'Region,Category\nnorth,Office Supplies\n', 'the stored content is unchanged')
    assert.equal(existsSync(path.join(dir, 'cli-home', 'runs.db')), false, 'nothing went to the CLI\'s own data dir')
  })

  it('renders {{ run.node }} as the peer id of the node running the step, on each node', () => {
    const file = pipeline(dir, 'where', `steps:
  where:
    nodes: 3
    merge: per-node
    run: echo "{{ run.node }}" > {{ outputs.path }}/node.txt
`)
    const { end } = runOn((stack.nodes[0] as NodeProcess).url, file, dir)
    assert.equal(end.status, 'succeeded', end.reason)
    const seen = ['0', '1', '2'].map((k) => readFileSync(path.join(dir, 'outputs', end.runId, 'where', k, 'node.txt'), 'utf8').trim())
    assert.deepEqual(seen.sort(), stack.nodes.map((n) => n.peerId).sort())
  })
})

describe('failures on a network of separate processes', () => {
  const { dir, cleanup } = scratch('failures')
  let requester: NodeProcess
  let computes: NodeProcess[] = []
  before(async () => {
    requester = await startNode(path.join(dir, 'a'), ['--dev', '--allow-path', dir])
    const addr = requester.addrs[0] as string
    computes = await Promise.all(['b', 'c'].map(async (name) => await startNode(path.join(dir, name), ['--dev', '--peer', addr, '--label', 'compute'])))
    await until(async () => (await connectedPeers(requester)).length === 2, 'both compute nodes to join')
  })
  after(async () => {
    await Promise.all([requester, ...computes].map(async (n) => { await n.stop() }))
    cleanup()
  })

  it('finishes a run on another node when the node running its step is killed with kill -9', async () => {
    const marks = path.join(dir, 'marks')
    const file = pipeline(dir, 'survive', `steps:
  slow:
    runs-on: compute
    run: |
      echo started >> ${marks}
      sleep 2
      echo done > {{ outputs.path }}/done.txt
`)
    const node = await connectNode(requester, requester.dataDir)
    const runId = await node.startRun({ ...request(file, dir), noCache: true })
    const starts: string[] = []
    const following = (async () => { for await (const event of node.follow(runId)) if (event.type === 'step:start') starts.push(String(event.node)) })()
    await until(() => starts.length === 1 && existsSync(marks), 'the step to start on a compute node')
    const victim = computes.find((c) => c.id === starts[0]) as NodeProcess
    process.kill(victim.pid, 'SIGKILL')
    await following
    const { run } = await node.describeRun(runId)
    assert.equal(run.status, 'succeeded', run.reason)
    const survivor = computes.find((c) => c !== victim) as NodeProcess
    assert.deepEqual(starts, [victim.id, survivor.id], 'the step moved to the other compute node')
    assert.equal(readFileSync(path.join(dir, 'outputs', runId, 'slow', '0', 'done.txt'), 'utf8'), 'done\n')
    assert.equal(readFileSync(marks, 'utf8'), 'started\nstarted\n')
    // the killed node is replaced for the rest of the test
    computes = [survivor, await startNode(victim.dataDir, ['--dev', '--peer', requester.addrs[0] as string, '--label', 'compute'])]
    await until(async () => (await connectedPeers(requester)).length >= 2, 'the restarted node to rejoin')
  })

  it('counts each peer\'s dispatches back to zero across advert refreshes, so later runs still find room', async () => {
    // each step spans an advert refresh (every 2 s); a count kept on a replaced peer record would never drop
    const file = pipeline(dir, 'span', `steps:
  wait:
    foreach: [1, 2, 3, 4]
    runs-on: compute
    run: sleep 2.5
`)
    for (let i = 0; i < 2; i++) {
      const { end } = runOn(requester.url, file, dir)
      assert.equal(end.status, 'succeeded', end.reason)
    }
    const listed = JSON.parse(bac(['node', 'list', '--json', '--node', requester.url]).stdout) as { peers: Array<{ dispatched: number }> }
    assert.deepEqual(listed.peers.map((p) => p.dispatched), [0, 0])
  })

  it('cancels: the cancel reaches the remote node, which kills the step\'s process', async () => {
    const startedFile = path.join(dir, 'remote.started')
    // the step's $$ is a pid of its own PID namespace: it is found on the host by its command line
    const marker = `60.${process.pid}5`
    const file = pipeline(dir, 'cancel', `steps:
  long:
    runs-on: compute
    run: |
      echo started > ${startedFile}
      sleep ${marker}
`)
    const node: BacNode = await connectNode(requester, requester.dataDir)
    const runId = await node.startRun({ ...request(file, dir), noCache: true })
    await until(() => existsSync(startedFile) && readFileSync(startedFile, 'utf8').trim() !== '', 'the remote step to start')
    const alive = (): boolean => processes((cmdline) => cmdline === `sleep\0${marker}\0`).length > 0
    await until(alive, 'the remote step\'s sleep to run')
    await node.cancelRun(runId)
    await until(() => !alive(), 'the remote process to be killed', 10_000)
    await until(async () => (await node.describeRun(runId)).run.status === 'cancelled', 'the run to end cancelled')
  })

  it('refuses the work of an untrusted node, with the reason, and logs the refusal', async () => {
    // a node that trusts nobody (no --dev, no trusted-peers): it joins, but runs nothing for the requester
    const strict = await startNode(path.join(dir, 'strict'), ['--peer', requester.addrs[0] as string, '--label', 'strict'])
    try {
      await until(async () => (await connectedPeers(requester)).includes(strict.peerId), 'the requester to see the strict node')
      const file = pipeline(dir, 'refused', `steps:
  only:
    runs-on: strict
    run: echo never > {{ outputs.path }}/x
`)
      const { end } = runOn(requester.url, file, dir)
      assert.equal(end.status, 'failed')
      assert.match(end.reason ?? '', new RegExp(`does not trust ${requester.peerId}`))
      assert.match(end.reason ?? '', /--trust/)
      await until(() => /refused step 'only'/.test(strict.stderr()), 'the strict node to log the refusal')
    } finally {
      await strict.stop()
    }
  })
})

const canNetns = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0

describe('nodes in separate network namespaces, joined by veth', { skip: canNetns ? false : 'needs root and iproute2' }, () => {
  const { dir, cleanup } = scratch('netns')
  const suffix = String(process.pid % 10000)
  const ns = [`bac-a-${suffix}`, `bac-b-${suffix}`]
  const ip = (...args: string[]): void => {
    const r = spawnSync('ip', args, { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
  }
  const nodes: NodeProcess[] = []
  before(() => {
    for (const n of ns) ip('netns', 'add', n)
    ip('link', 'add', `va${suffix}`, 'type', 'veth', 'peer', 'name', `vb${suffix}`)
    ip('link', 'set', `va${suffix}`, 'netns', ns[0] as string)
    ip('link', 'set', `vb${suffix}`, 'netns', ns[1] as string)
    ip('-n', ns[0] as string, 'addr', 'add', '10.231.0.1/24', 'dev', `va${suffix}`)
    ip('-n', ns[1] as string, 'addr', 'add', '10.231.0.2/24', 'dev', `vb${suffix}`)
    for (const [i, n] of ns.entries()) {
      ip('-n', n, 'link', 'set', i === 0 ? `va${suffix}` : `vb${suffix}`, 'up')
      ip('-n', n, 'link', 'set', 'lo', 'up')
    }
  })
  after(async () => {
    await Promise.all(nodes.map(async (n) => { await n.stop() }))
    for (const n of ns) spawnSync('ip', ['netns', 'del', n])
    cleanup()
  })

  it('dispatches a step across real addresses, trusted by peer id', async () => {
    const compute = await startNode(path.join(dir, 'b'), ['--listen', '--label', 'far'], { prefix: ['ip', 'netns', 'exec', ns[1] as string] })
    nodes.push(compute)
    const far = compute.addrs.find((a) => a.includes('10.231.0.2'))
    assert.ok(far !== undefined, `the compute node listens on its veth address: ${compute.addrs.join(', ')}`)
    const requester = await startNode(path.join(dir, 'a'), ['--listen', '--peer', far, '--trust', compute.peerId, '--allow-path', dir], { prefix: ['ip', 'netns', 'exec', ns[0] as string] })
    nodes.push(requester)
    // the compute node learns to trust the requester from its trusted-peers file, read again on change
    writeFileSync(path.join(compute.dataDir, 'trusted-peers'), `# the requester\n${requester.peerId}\n`)
    const file = pipeline(dir, 'far', `steps:
  there:
    runs-on: far
    run: ip -o -4 addr show | grep -o '10\\.231\\.0\\.[0-9]*' > {{ outputs.path }}/addr.txt
`)
    // the CLI runs in the requester's namespace, where its API is
    await until(() => {
      const r = spawnSync(
        'ip',
        ['netns', 'exec', ns[0] as string, process.execPath, path.join(process.cwd(), 'dist/bin/bac.mjs'), 'node', 'list', '--node', requester.url, '--token', TOKEN, '--json'],
        { encoding: 'utf8' }
      )
      return r.status === 0 && r.stdout.includes(compute.peerId) && r.stdout.includes('"connected":true')
    }, 'the requester to see the compute node')
    const r = spawnSync(
      'ip',
      ['netns', 'exec', ns[0] as string, process.execPath, path.join(process.cwd(), 'dist/bin/bac.mjs'), 'run', file, '--node', requester.url, '--token', TOKEN, '--json'],
      { encoding: 'utf8', cwd: dir }
    )
    const end = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { type: string, runId: string, status: string, reason?: string }).find((e) => e.type === 'run:end')
    assert.equal(end?.status, 'succeeded', `${r.stdout}\n${r.stderr}`)
    // the step ran in the compute node's namespace, which only has 10.231.0.2
    assert.equal(readFileSync(path.join(dir, 'outputs', end.runId, 'there', '0', 'addr.txt'), 'utf8').trim(), '10.231.0.2')
  })
})
