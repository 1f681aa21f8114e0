import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import '../../src/polyfills.js'
import { startNetwork, type Network } from '../../src/network/index.js'
import { createUnixfsStore, PackBlockstore } from '../../src/storage/index.js'
import { scratch, until } from './helpers.js'

/** How long a block is looked for on peers here: long enough for a trusted peer on loopback, short for the test. */
const BLOCK_TIMEOUT_MS = 3000

/**
 * Bitswap serves whoever asks, unless the node guards it: a node that does not trust a peer must
 * not answer its wants, however the peer connected. Real libp2p hosts on 127.0.0.1, real stores.
 */
describe('content goes only to trusted peers (bitswap and the block stream)', () => {
  const { dir, cleanup } = scratch('bitswap-trust')
  const started: Array<{ network: Network, blocks: PackBlockstore }> = []
  const logs = new Map<string, string[]>()
  after(async () => {
    for (const { network, blocks } of started) {
      await network.stop()
      await blocks.close()
    }
    cleanup()
  })

  async function node (name: string, trust: { loopback?: boolean }, peers: string[] = []): Promise<Network> {
    const blocks = new PackBlockstore(path.join(dir, name, 'blocks'))
    await blocks.open()
    const lines: string[] = []
    logs.set(name, lines)
    const network = await startNetwork({
      dataDir: path.join(dir, name),
      nodeId: name,
      version: '0.0.0',
      executors: [],
      slots: 1,
      trust,
      blockstore: blocks,
      peers,
      blockTimeoutMs: BLOCK_TIMEOUT_MS,
      run: async () => { throw new Error('no tasks here') },
      log: (line) => { lines.push(line) }
    })
    started.push({ network, blocks })
    return network
  }

  /** Content only `holder` has: a file of random bytes, a few blocks. */
  async function privateContent (holder: Network): Promise<string> {
    return await createUnixfsStore({ blockstore: holder.blockstore }).addBytes(Buffer.from(Array.from({ length: 600_000 }, (_, i) => (i * 7919) % 251)))
  }

  it('a node that trusts no one sends nothing to a peer that asks, by bitswap or the block stream', async () => {
    const holder = await node('holder', {})
    const asker = await node('asker', {}, [holder.addrs()[0] as string])
    // the asker trusts the holder (so it does ask); the holder trusts no one
    writeFileSync(path.join(dir, 'asker', 'trusted-peers'), `${holder.peerId}\n`)
    await until(() => asker.list().some((p) => p.advert.peerId === holder.peerId && p.connected), 'the asker to know the holder')
    const cid = await privateContent(holder)
    const bitswap = createUnixfsStore({ blockstore: asker.blockstore })
    await assert.rejects(async () => { for await (const _ of bitswap.cat(cid)) { /* read */ } }, /no peer sent it within 3000 ms/)
    await assert.rejects(asker.fetch(cid, holder.peerId), new RegExp(`did not send ${cid}: peer ${asker.peerId} is not trusted`))
    await until(() => (logs.get('holder') ?? []).some((l) => l.includes(`refused /ipfs/bitswap/1.2.0 with ${asker.peerId}`)), 'the holder to log the refusal')
    assert.equal(await asker.blockstore.has((await import('multiformats/cid')).CID.parse(cid)), false)
  })

  it('the same content reaches a peer it trusts (the control: same code, trust given)', async () => {
    const holder = await node('holder-2', { loopback: true })
    const asker = await node('asker-2', { loopback: true }, [holder.addrs()[0] as string])
    await until(() => asker.list().some((p) => p.advert.peerId === holder.peerId && p.connected && p.trusted), 'the asker to know the holder')
    const cid = await privateContent(holder)
    const chunks: Uint8Array[] = []
    for await (const chunk of createUnixfsStore({ blockstore: asker.blockstore }).cat(cid)) chunks.push(chunk)
    assert.equal(Buffer.concat(chunks).length, 600_000)
  })
})
