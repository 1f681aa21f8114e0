import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { dedupeBlockstore } from '../../src/storage/dedupe-blockstore.js'

async function block (text: string): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(text)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

describe('dedupeBlockstore', () => {
  it('writes a block once, however many concurrent or later puts ask for it', async () => {
    const inner = new MemoryBlockstore()
    let writes = 0
    const originalPut = inner.put.bind(inner)
    inner.put = async (...args: Parameters<typeof inner.put>) => { writes++; return await originalPut(...args) }
    const store = dedupeBlockstore(inner)
    const a = await block('a')
    const b = await block('b')
    const results = await Promise.all([store.put(a.cid, a.bytes), store.put(a.cid, a.bytes), store.put(b.cid, b.bytes), store.put(a.cid, a.bytes)])
    assert.deepEqual(results.map(String), [a.cid, a.cid, b.cid, a.cid].map(String))
    await store.put(a.cid, a.bytes)
    assert.equal(writes, 2)
    assert.equal(await store.has(a.cid), true)
  })

  it('passes every other call through to the wrapped store', async () => {
    const inner = new MemoryBlockstore()
    const store = dedupeBlockstore(inner)
    const a = await block('x')
    await store.put(a.cid, a.bytes)
    await store.delete(a.cid)
    assert.equal(await inner.has(a.cid), false)
  })
})
