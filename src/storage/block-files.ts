import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import type { CID } from 'multiformats/cid'
import { base32upper } from 'multiformats/bases/base32'

let tempCounter = 0

interface AbortOptions { signal?: AbortSignal }

/** Named as interface-store names its errors, which the content store and Helia test by name. */
class NotFoundError extends Error {
  override name = 'NotFoundError'
}

class PutFailedError extends Error {
  override name = 'PutFailedError'
}

/** Collects a block given as bytes or as pieces. */
async function blockBytes (value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  if (value instanceof Uint8Array) return value
  const pieces: Uint8Array[] = []
  for await (const piece of value) pieces.push(piece)
  return Buffer.concat(pieces)
}

/** Blocks up to this size are kept in memory once read or written: folder nodes, small files. */
const CACHED_BLOCK_BYTES = 16 * 1024
/** Bytes of small blocks kept in memory at most; past it the least recently used go. */
const CACHE_BYTES = 32 * 1024 * 1024

/** The least recently used small blocks, by file name. */
class SmallBlocks {
  private readonly blocks = new Map<string, Uint8Array>()
  private bytes = 0

  get (key: string): Uint8Array | undefined {
    const block = this.blocks.get(key)
    if (block !== undefined) { this.blocks.delete(key); this.blocks.set(key, block) }
    return block
  }

  set (key: string, block: Uint8Array): void {
    if (block.length > CACHED_BLOCK_BYTES || this.blocks.has(key)) return
    this.blocks.set(key, block)
    this.bytes += block.length
    for (const [oldest, old] of this.blocks) {
      if (this.bytes <= CACHE_BYTES) break
      this.blocks.delete(oldest)
      this.bytes -= old.length
    }
  }

  delete (key: string): void {
    const block = this.blocks.get(key)
    if (block !== undefined) { this.blocks.delete(key); this.bytes -= block.length }
  }
}

/**
 * blockstore-fs's layout (one file per block, `<blocks>/<next-to-last 2 chars>/<base32 multihash>.data`)
 * with a faster write and read path, so an add runs at disk speed:
 * - a block already stored is not written again, and concurrent puts of one block share a write;
 * - each write goes to a temporary file of its own and is renamed into place, so a block file is
 *   never partial and two writers never collide (blockstore-fs uses one temporary name per block
 *   and retries a failed rename for up to a second);
 * - shard folders are created once, not on every put;
 * - a block is read in one call rather than streamed in 64 KiB pieces;
 * - small blocks (folder nodes, small files), which a folder's every read goes through, are kept
 *   in memory, bounded.
 */
export class BlockFiles extends FsBlockstore {
  private readonly madeDirs = new Set<string>()
  private readonly inflight = new Map<string, Promise<CID>>()
  private readonly small = new SmallBlocks()

  private location (cid: CID): { dir: string, file: string } {
    const name = base32upper.encoder.encode(cid.multihash.bytes)
    const dir = path.join(this.path, name.slice(-2))
    return { dir, file: path.join(dir, `${name}.data`) }
  }

  override async put (cid: CID, value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options?: AbortOptions): Promise<CID> {
    const { dir, file } = this.location(cid)
    if (this.small.get(file) !== undefined) return cid
    const running = this.inflight.get(file)
    if (running !== undefined) return await running
    const write = (async () => {
      options?.signal?.throwIfAborted()
      if (this.madeDirs.has(dir)) {
        // a stat of a cached entry takes microseconds; the promise API would make an error per miss
        if (existsSync(file)) return cid
      } else {
        await mkdir(dir, { recursive: true })
        this.madeDirs.add(dir)
      }
      const temp = `${file}.${process.pid}-${++tempCounter}.tmp`
      try {
        const bytes = await blockBytes(value)
        await writeFile(temp, bytes)
        await rename(temp, file)
        this.small.set(file, bytes)
      } catch (err) {
        await rm(temp, { force: true })
        throw new PutFailedError(`cannot write block ${cid.toString()} to ${file}: ${(err as Error).message}`)
      }
      return cid
    })().finally(() => this.inflight.delete(file))
    this.inflight.set(file, write)
    return await write
  }

  override async * get (cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    options?.signal?.throwIfAborted()
    const { file } = this.location(cid)
    let bytes = this.small.get(file)
    if (bytes === undefined) {
      try {
        bytes = await readFile(file)
      } catch (err) {
        throw new NotFoundError(String(err))
      }
      this.small.set(file, bytes)
    }
    yield bytes
  }

  override async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    return this.small.get(this.location(cid).file) !== undefined || await super.has(cid, options)
  }

  override async delete (cid: CID, options?: AbortOptions): Promise<void> {
    this.small.delete(this.location(cid).file)
    await super.delete(cid, options)
  }
}
