import { CarWriter } from '@ipld/car'
import { asyncIterableReader, createDecoder } from '@ipld/car/decoder'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { UnsafeContentError } from '../interfaces/errors.js'
import { blockLinks, blockMatches, readBlock } from './blocks.js'

/** The largest block bac reads from a CAR (Kubo refuses blocks over 2 MiB; the block stream between nodes takes 4 MiB). */
export const MAX_CAR_BLOCK_BYTES = 4 * 1024 * 1024
/** A section's CID and length prefix, on top of its block. */
const SECTION_OVERHEAD = 1024
/** CIDs waiting to be exported at once: a real DAG holds a few thousand (a folder's links on each level down). */
const MAX_PENDING = 100_000
/** Leaf blocks (no links) remembered so that one sent twice is sent once; past this, only blocks with links are. */
const MAX_REMEMBERED_LEAVES = 262_144

interface Block { cid: CID, bytes: Uint8Array }

/** A block's bytes; an identity CID's are its digest. */
async function bytesOf (cid: CID, blockstore: Pick<Blockstore, 'get'>, signal?: AbortSignal): Promise<Uint8Array> {
  return cid.multihash.code === identity.code ? cid.multihash.digest : await readBlock(cid, blockstore, signal)
}

/**
 * Every block of the DAG under `root`, depth first and each once, as a CAR v1 stream: what
 * `ipfs dag export` writes. `through` are the blocks from a CID down a path to `root` (see
 * `pathBlocks`): they come first and the first of them is the CAR's root, so whoever reads it can
 * check the path; without them `root` is the CAR's only root. The root block is read before the
 * first byte is yielded: a missing root fails before anything is sent.
 */
export async function * exportCar (root: CID, blockstore: Pick<Blockstore, 'get'>, signal?: AbortSignal, through: readonly Block[] = []): AsyncGenerator<Uint8Array> {
  const first = await bytesOf(root, blockstore, signal)
  const { writer, out } = CarWriter.create([through[0]?.cid ?? root])
  const walk = (async () => {
    try {
      const seen = new Set<string>()
      let leaves = 0
      for (const block of through) {
        seen.add(block.cid.toString())
        await writer.put(block)
      }
      const pending: CID[] = [root]
      let bytes: Uint8Array | undefined = first
      while (pending.length > 0) {
        const cid = pending.pop() as CID
        const key = cid.toString()
        if (seen.has(key)) continue
        bytes ??= await bytesOf(cid, blockstore, signal)
        const links = blockLinks(cid, bytes)
        if (links.length > 0 || leaves < MAX_REMEMBERED_LEAVES) {
          seen.add(key)
          if (links.length === 0) leaves++
        }
        await writer.put({ cid, bytes })
        bytes = undefined
        if (pending.length + links.length > MAX_PENDING) {
          throw new UnsafeContentError(root.toString(), `nests nodes so wide so deep that exporting it would hold more than ${MAX_PENDING} links at once`)
        }
        // pushed in reverse, so the first link is taken next: the order of a depth-first walk
        for (let i = links.length - 1; i >= 0; i--) pending.push(links[i] as CID)
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
 * The blocks of a CAR v1 stream, each checked against its CID, and its roots. A block longer than
 * MAX_CAR_BLOCK_BYTES, a CAR v2, a stream that is not a CAR or ends inside a block, and a block
 * that does not hash to its CID are refused (`UnsafeContentError` naming `what`), at the point
 * they are met: nothing is buffered beyond one block.
 */
export async function carBlocks (car: AsyncIterable<Uint8Array>, what: string): Promise<{ roots: CID[], blocks: AsyncGenerator<Block> }> {
  const decoder = createDecoder(bounded(asyncIterableReader(car), what))
  let roots: CID[]
  try {
    const header = await decoder.header()
    if (header.version !== 1) throw new Error(`it is a CAR v${header.version as number}; bac reads CAR v1`)
    roots = header.roots
  } catch (err) {
    throw refusal(err, what, 'is not a CAR v1 stream')
  }
  async function * blocks (): AsyncGenerator<Block> {
    const source = decoder.blocks()
    for (;;) {
      let next: IteratorResult<Block>
      try {
        next = await source.next()
      } catch (err) {
        throw refusal(err, what, 'is not a whole CAR v1 stream')
      }
      if (next.done === true) return
      const { cid, bytes } = next.value
      if (!blockMatches(cid, bytes)) throw new UnsafeContentError(what, `holds a block that does not hash to its CID ${cid.toString()}`)
      yield { cid, bytes }
    }
  }
  return { roots, blocks: blocks() }
}

function refusal (err: unknown, what: string, reason: string): Error {
  if (err instanceof UnsafeContentError) return err
  return new UnsafeContentError(what, `${reason} (${(err as Error).message})`)
}

type BytesReader = Parameters<typeof createDecoder>[0]

/** A reader that refuses to gather, or skip, more than one block's worth of bytes at once. */
function bounded (reader: BytesReader, what: string): BytesReader {
  const limit = MAX_CAR_BLOCK_BYTES + SECTION_OVERHEAD
  return {
    upTo: async (length) => await reader.upTo(length),
    exactly: async (length, seek) => {
      if (length > limit) throw new UnsafeContentError(what, `holds a section of ${length} bytes; bac reads blocks of at most ${MAX_CAR_BLOCK_BYTES} bytes`)
      return await reader.exactly(length, seek)
    },
    seek: (length) => {
      if (length > limit) throw new Error(`it skips ${length} bytes ahead (a CAR v2?); bac reads CAR v1`)
      reader.seek(length)
    },
    get pos () { return reader.pos }
  }
}

/**
 * Stores the blocks of a CAR stream, each only after its bytes hash to its CID (a block that does
 * not is refused, and nothing after it is stored), in runs (`putMany`). Returns the CAR's roots.
 */
export async function importCar (car: AsyncIterable<Uint8Array>, blockstore: Pick<Blockstore, 'putMany'>, what: string): Promise<CID[]> {
  const { roots, blocks } = await carBlocks(car, what)
  for await (const _ of blockstore.putMany(blocks)) { /* each stored block's CID */ }
  return roots
}
