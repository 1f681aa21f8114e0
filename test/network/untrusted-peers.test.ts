import assert from 'node:assert/strict'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import '../../src/polyfills.js'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { DISPATCH_PROTOCOL, NODE_PROTOCOL, startNetwork, type Network } from '../../src/network/index.js'
import { PackBlockstore } from '../../src/storage/index.js'
import { scratch, until } from '../network/helpers.js'

/**
 * Found by a security review (each test failed before its fix). An untrusted peer may connect and read the advert; it must
 * not be able to grow the node's memory without bound or write the node's log.
 */
describe('an untrusted peer costs the node a bounded amount and writes nothing in its log', () => {
  const { dir, cleanup } = scratch('review-peers')
  let network: Network | undefined
  let blocks: PackBlockstore | undefined
  const lines: string[] = []
  after(async () => {
    try {
      await network?.stop()
      await blocks?.close()
    } finally {
      cleanup()
    }
  })

  /** A stranger with a fresh identity that answers the advert protocol with `advert`, joins the node, and leaves. */
  async function stranger (target: string, advert: (peerId: string) => unknown): Promise<string> {
    const peer = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
    const id = peer.peerId.toString()
    await peer.handle(NODE_PROTOCOL, async (stream) => {
      await lpStream(stream, { maxDataLength: 16 * 1024 * 1024 }).write(new TextEncoder().encode(JSON.stringify({ type: 'advert', advert: advert(id), peers: [] })))
      await stream.close()
    })
    // it says it speaks dispatch, as a bac node does, so the node asks for its advert
    await peer.handle(DISPATCH_PROTOCOL, async (stream) => { stream.abort(new Error('no')) })
    try {
      await peer.dial(multiaddr(target))
      // the node lists the stranger, or says it refused its advert
      await until(() => network?.list().some((p) => p.advert.peerId === id) === true || lines.some((l) => l.includes(id)), 'the node to take or refuse the advert')
    } finally {
      await peer.stop()
    }
    // libp2p takes at most 5 connections a second from one host: a patient stranger is let in
    await new Promise((resolve) => setTimeout(resolve, 1100))
    return id
  }

  it('forgets strangers that left, and keeps no megabytes of what they said', async () => {
    blocks = new PackBlockstore(path.join(dir, 'node', 'blocks'))
    await blocks.open()
    network = await startNetwork({
      dataDir: path.join(dir, 'node'),
      nodeId: 'node',
      version: '0.0.0',
      executors: [],
      slots: 1,
      trust: {},
      blockstore: blocks,
      run: async () => { throw new Error('no tasks here') },
      log: (line) => { lines.push(line) }
    })
    const target = network.addrs()[0] as string
    const pad = 'x'.repeat(1024 * 1024)
    for (let i = 0; i < 6; i++) await stranger(target, (peerId) => ({ nodeId: `stranger-${i}`, peerId, version: '0', labels: { pad }, executors: ['process'], slots: 1, running: 0, addrs: [] }))
    const kept = JSON.stringify(network.list()).length
    assert.ok(kept < 1024 * 1024, `the node keeps ${(kept / 1024 / 1024).toFixed(1)} MiB of the adverts of ${network.list().length} untrusted peers that left (each new peer id adds more)`)
  })

  it('writes no line of a stranger\'s choosing in its log (no newline, no terminal escape)', async () => {
    const target = network?.addrs()[0] as string
    await stranger(target, (peerId) => ({ nodeId: 'evil\n12:00:00 run 0123456789ab succeeded\u001b]0;owned\u0007', peerId, version: '0', labels: {}, executors: [], slots: 1, running: 0, addrs: [] }))
    const forged = lines.filter((l) => l.includes('\u001b') || l.includes('\n'))
    assert.deepEqual(forged, [], 'a stranger\'s advert wrote its own text into the node\'s log')
  })
})
