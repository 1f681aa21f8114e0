import { CarBlockIterator, CarWriter } from '@ipld/car'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { UnsafeContentError } from '../interfaces/errors.js'
import { blockLinks, blockMatches, readBlock } from './blocks.js'

/**
 * Every block of the DAG under `root`, depth first and each once, as a CAR v1 stream with `root`
 * as its only root: what `ipfs dag export` writes.
 */
export async function * exportCar (root: CID, blockstore: Pick<Blockstore, 'get'>, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const { writer, out } = CarWriter.create([root])
  const walk = (async () => {
    try {
      const seen = new Set<string>()
      const pending = [root]
      while (pending.length > 0) {
        const cid = pending.pop() as CID
        const key = cid.toString()
        if (seen.has(key)) continue
        seen.add(key)
        const bytes = await readBlock(cid, blockstore, signal)
        await writer.put({ cid, bytes })
        // pushed in reverse, so the first link is taken next: the order of a depth-first walk
        pending.push(...blockLinks(cid, bytes).reverse())
      }
    } finally {
      await writer.close()
    }
  })()
  // the walk waits on the reader (put resolves as its bytes are taken); its error, if any, comes after
  walk.catch(() => {})
  yield * out
  await walk
}

/**
 * Stores the blocks of a CAR stream, each only after its bytes hash to its CID (a block that does
 * not is refused, and nothing after it is stored). Returns the CAR's roots.
 */
export async function importCar (car: AsyncIterable<Uint8Array>, blockstore: Pick<Blockstore, 'put'>, what: string): Promise<CID[]> {
  let blocks: CarBlockIterator
  try {
    blocks = await CarBlockIterator.fromIterable(car)
  } catch (err) {
    throw new UnsafeContentError(what, `is not a CAR v1 stream (${(err as Error).message})`)
  }
  for await (const { cid, bytes } of blocks) {
    if (!blockMatches(cid, bytes)) throw new UnsafeContentError(what, `holds a block that does not hash to its CID ${cid.toString()}`)
    await blockstore.put(cid, bytes)
  }
  return await blocks.getRoots()
}
