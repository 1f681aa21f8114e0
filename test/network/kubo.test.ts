import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { create } from 'kubo-rpc-client'
import { connectNode } from '../../src/index.js'
import { startIpfsRpcServer, type IpfsRpcServer } from '../helpers/ipfs-rpc-server.js'
import { connectedPeers, scratch, startDevstack, until, type NodeProcess } from './helpers.js'

describe('a devstack whose nodes keep their content in one Kubo daemon (--ipfs-api)', () => {
  const { dir, cleanup } = scratch('devstack-kubo')
  let server: IpfsRpcServer
  let stack: Awaited<ReturnType<typeof startDevstack>>
  before(async () => {
    server = await startIpfsRpcServer()
    stack = await startDevstack(path.join(dir, 'stack'), 2, { BAC_IPFS_API: server.url }, ['--allow-path', dir])
    await until(async () => (await connectedPeers(stack.nodes[0] as NodeProcess)).length === 1, 'the nodes to know each other')
  })
  after(async () => {
    await stack.stop()
    await server.stop()
    cleanup()
  })

  it('runs a step on the peer, brings its outputs back, and the daemon holds and pins the result', async () => {
    const file = path.join(dir, 'kubo-net.yml')
    writeFileSync(file, `name: kubo-net
steps:
  far:
    runs-on: devstack=2
    run: head -c 3000000 /dev/urandom > {{ outputs.path }}/data.bin
  near:
    needs: [far]
    runs-on: devstack=1
    run: wc -c < {{ steps.far.outputs.path }}/data.bin > {{ outputs.path }}/size.txt
`)
    const first = stack.nodes[0] as NodeProcess
    const node = await connectNode(first, first.dataDir)
    const runId = await node.startRun({ text: readFileSync(file, 'utf8'), file, cwd: dir })
    let end: { status?: string, resultCid?: string, reason?: string } = {}
    for await (const event of node.follow(runId)) if (event.type === 'run:end') end = event
    assert.equal(end.status, 'succeeded', end.reason)
    const rpc = create({ url: `${server.url}/api/v0` })
    const types: string[] = []
    for await (const pin of rpc.pin.ls({ paths: [end.resultCid as string] as never })) types.push(pin.type)
    assert.deepEqual(types, ['recursive'])
    const chunks: Uint8Array[] = []
    for await (const chunk of rpc.cat(`${end.resultCid as string}/near/merged/size.txt`)) chunks.push(chunk)
    assert.equal(Buffer.concat(chunks).toString().trim(), '3000000')
  })
})
