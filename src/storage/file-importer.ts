import type { PathScope } from '../interfaces/content-store.js'
import type { FileHandle } from 'node:fs/promises'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { openRegularFile } from '../common/files.js'
import { blockCid } from './blocks.js'

/** Kubo's defaults: 256 KiB fixed-size chunks, at most 174 links per node of a balanced DAG. */
export const CHUNK_SIZE = 262_144
export const MAX_LINKS = 174
/** Block writes kept in flight while the next chunks are read and hashed. */
const WRITES_IN_FLIGHT = 16

/** A stored DAG: its root, the bytes of all its blocks (a link's Tsize) and its file bytes. */
export interface ImportedNode {
  cid: CID
  tsize: number
  fileSize: number
}

export type PutBlock = (cid: CID, bytes: Uint8Array) => Promise<unknown>

function varintLength (n: number): number {
  let length = 1
  while (n >= 0x80) { n = Math.floor(n / 0x80); length++ }
  return length
}

function writeVarint (buf: Uint8Array, offset: number, n: number): number {
  while (n >= 0x80) { buf[offset++] = (n % 0x80) | 0x80; n = Math.floor(n / 0x80) }
  buf[offset++] = n
  return offset
}

/** Bytes before a leaf's payload: dag-pb Data (field 1) around UnixFS {Type: File, Data: payload …}. */
function leafHeaderLength (n: number): number {
  const unixfs = 2 + 1 + varintLength(n) + n + 1 + varintLength(n)
  return 1 + varintLength(unixfs) + 2 + 1 + varintLength(n)
}

/** Writes a leaf's header and trailer around the `n` payload bytes already at `leafHeaderLength(n)`. */
function sealLeaf (block: Uint8Array, n: number): Uint8Array {
  const unixfs = 2 + 1 + varintLength(n) + n + 1 + varintLength(n)
  let o = 0
  block[o++] = 0x0a // PBNode.Data
  o = writeVarint(block, o, unixfs)
  block[o++] = 0x08; block[o++] = 0x02 // Data.Type = File
  block[o++] = 0x12 // Data.Data
  o = writeVarint(block, o, n)
  o += n
  block[o++] = 0x18 // Data.filesize
  o = writeVarint(block, o, n)
  return block.subarray(0, o)
}

/** The leaf of an empty file: UnixFS {Type: File, filesize: 0}, as Kubo writes it. */
const EMPTY_LEAF = Uint8Array.from([0x0a, 0x04, 0x08, 0x02, 0x18, 0x00])

const FULL_HEADER = leafHeaderLength(CHUNK_SIZE)
const FULL_BLOCK = FULL_HEADER + CHUNK_SIZE + 1 + varintLength(CHUNK_SIZE)

/** A buffer for one full leaf, payload to be written at FULL_HEADER. */
function fullLeafBuffer (): Buffer {
  return Buffer.allocUnsafe(FULL_BLOCK)
}

/** Seals a leaf read into a full-size buffer; a short last chunk is moved into a block of its own size. */
function leafFrom (buffer: Buffer, n: number): Uint8Array {
  if (n === CHUNK_SIZE) return sealLeaf(buffer, n)
  const header = leafHeaderLength(n)
  const block = Buffer.allocUnsafe(header + n + 1 + varintLength(n))
  buffer.copy(block, header, FULL_HEADER, FULL_HEADER + n)
  return sealLeaf(block, n)
}

/**
 * Builds a file's DAG the way Kubo's `ipfs add` does with its defaults (CIDv0, dag-pb leaves,
 * 256 KiB chunks, balanced, 174 links), block by block as chunks arrive, so a file of any size
 * takes constant memory beyond one record per leaf. Leaves are encoded by hand (a payload is
 * read straight into its block, never copied) and hashed on the spot; writes overlap reading.
 */
class FileDag {
  private readonly leaves: ImportedNode[] = []
  private readonly writing: Array<Promise<unknown>> = []

  constructor (private readonly put: PutBlock, private readonly signal?: AbortSignal) {}

  async leaf (block: Uint8Array, n: number): Promise<void> {
    this.signal?.throwIfAborted()
    const cid = blockCid(block)
    this.leaves.push({ cid, tsize: block.length, fileSize: n })
    this.writing.push(this.put(cid, block))
    if (this.writing.length >= WRITES_IN_FLIGHT) await this.writing.shift()
  }

  private async parent (children: ImportedNode[]): Promise<ImportedNode> {
    const data = new UnixFS({ type: 'file', blockSizes: children.map((c) => BigInt(c.fileSize)) })
    const bytes = dagPb.encode(dagPb.prepare({ Data: data.marshal(), Links: children.map((c) => ({ Name: '', Tsize: c.tsize, Hash: c.cid })) }))
    const cid = blockCid(bytes)
    this.writing.push(this.put(cid, bytes))
    return { cid, tsize: bytes.length + children.reduce((sum, c) => sum + c.tsize, 0), fileSize: children.reduce((sum, c) => sum + c.fileSize, 0) }
  }

  async finish (): Promise<ImportedNode> {
    if (this.leaves.length === 0) {
      const cid = blockCid(EMPTY_LEAF)
      this.writing.push(this.put(cid, EMPTY_LEAF))
      this.leaves.push({ cid, tsize: EMPTY_LEAF.length, fileSize: 0 })
    }
    let level = this.leaves
    while (level.length > 1) {
      const next: ImportedNode[] = []
      for (let i = 0; i < level.length; i += MAX_LINKS) next.push(await this.parent(level.slice(i, i + MAX_LINKS)))
      level = next
    }
    await Promise.all(this.writing.splice(0))
    return level[0] as ImportedNode
  }

  /** Lets writes already started settle before an error propagates, so none is left running. */
  async abandon (): Promise<void> {
    await Promise.allSettled(this.writing.splice(0))
  }
}

/**
 * Imports a regular file from disk (anything else is refused unopened: see `openRegularFile`).
 * It is opened without touching its access time where the system allows it (the file's owner,
 * or root, on Linux): reading a file must not change it, and a changed atime is an event for
 * every watcher of its folder (chokidar then reads the whole folder again). With `within`, the
 * file as opened must lie in one of those real folders.
 */
export async function importFile (file: string, put: PutBlock, signal?: AbortSignal, within?: PathScope): Promise<ImportedNode> {
  const { handle, stats } = await openRegularFile(file, { noatime: true, ...(within !== undefined ? { within } : {}) })
  try {
    return await importHandle(handle, put, signal, Number(stats.size))
  } finally {
    await handle.close()
  }
}

/**
 * Imports an open file from where it stands, reading each chunk straight into its leaf block, one
 * read ahead. `sizeHint` (the file's size when opened) sizes the buffers of a small file or a
 * short last chunk to what they hold, not a whole chunk each; a file that grew meanwhile is read
 * whole all the same. The caller closes it.
 */
export async function importHandle (handle: FileHandle, put: PutBlock, signal?: AbortSignal, sizeHint?: number): Promise<ImportedNode> {
  const dag = new FileDag(put, signal)
  let next: Promise<{ buffer: Buffer, n: number }> | undefined
  let offset = 0
  try {
    const read = async (): Promise<{ buffer: Buffer, n: number }> => {
      // room for what is left by the hint, and one byte more so that the end shows at once
      let room = sizeHint === undefined ? CHUNK_SIZE : Math.min(CHUNK_SIZE, Math.max(0, sizeHint - offset) + 1)
      let buffer = room === CHUNK_SIZE ? fullLeafBuffer() : Buffer.allocUnsafe(FULL_HEADER + room)
      let n = 0
      for (;;) {
        while (n < room) {
          const { bytesRead } = await handle.read(buffer, FULL_HEADER + n, room - n, null)
          if (bytesRead === 0) return { buffer, n }
          n += bytesRead
        }
        if (room === CHUNK_SIZE) return { buffer, n }
        // the file is longer than it was: a whole chunk's room after all
        const full = fullLeafBuffer()
        buffer.copy(full, FULL_HEADER, FULL_HEADER, FULL_HEADER + n)
        buffer = full
        room = CHUNK_SIZE
      }
    }
    next = read()
    for (;;) {
      const { buffer, n } = await next
      if (n === 0) break
      offset += n
      if (n === CHUNK_SIZE) next = read()
      await dag.leaf(leafFrom(buffer, n), n)
      if (n < CHUNK_SIZE) break
    }
    return await dag.finish()
  } catch (err) {
    // the read ahead ends before the caller closes the file
    await Promise.allSettled([dag.abandon(), next])
    throw err
  }
}

/** Imports a stream of bytes, gathered into 256 KiB chunks as Kubo's fixed-size chunker does. */
export async function importBytes (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, put: PutBlock, signal?: AbortSignal): Promise<ImportedNode> {
  const dag = new FileDag(put, signal)
  try {
    let buffer = fullLeafBuffer()
    let n = 0
    for await (const piece of source) {
      signal?.throwIfAborted()
      let offset = 0
      while (offset < piece.length) {
        const take = Math.min(CHUNK_SIZE - n, piece.length - offset)
        buffer.set(piece.subarray(offset, offset + take), FULL_HEADER + n)
        n += take
        offset += take
        if (n === CHUNK_SIZE) {
          await dag.leaf(leafFrom(buffer, n), n)
          buffer = fullLeafBuffer()
          n = 0
        }
      }
    }
    if (n > 0) await dag.leaf(leafFrom(buffer, n), n)
    return await dag.finish()
  } catch (err) {
    await dag.abandon()
    throw err
  }
}
