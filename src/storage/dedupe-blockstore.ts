import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

type Put = Blockstore['put']

/**
 * Wraps a blockstore so a block is written once: a block already stored is not written again,
 * and concurrent puts of one block share a single write. blockstore-fs writes through one
 * temporary file name per block, so two concurrent puts of the same block make the second
 * rename fail and retry for about a second; content-addressed data repeats blocks often (a
 * re-added folder, identical files, empty folders).
 */
export function dedupeBlockstore<T extends Blockstore> (inner: T): T {
  const inflight = new Map<string, Promise<CID>>()
  const put: Put = async (cid, bytes, options) => {
    const key = cid.toString()
    const running = inflight.get(key)
    if (running !== undefined) return await running
    const write = (async () => {
      if (await inner.has(cid, options)) return cid
      return await inner.put(cid, bytes, options)
    })().finally(() => inflight.delete(key))
    inflight.set(key, write)
    return await write
  }
  return new Proxy(inner, {
    get (target, property, receiver) {
      if (property === 'put') return put
      const value: unknown = Reflect.get(target, property, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}
