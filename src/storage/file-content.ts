import type { Blockstore } from 'interface-blockstore'
import { UnsafeContentError } from '../interfaces/errors.js'
import { blockAt, decodeNode, MAX_DEPTH, OpenNodes, printable, type FileNode } from './unixfs-node.js'

/**
 * Blocks of one file read ahead of the one being yielded, in all its levels together: enough to
 * keep reads and hashing going while the consumer writes, and never more than a few MiB held.
 */
const READ_AHEAD = 4

/** Read-ahead slots left for one file. */
interface Slots { free: number }

/**
 * The bytes of a file node, in order, as its blocks are read: memory stays a few blocks whatever
 * the file's size, and the consumer's pace sets the reading's (nothing is read far ahead). Every
 * node is checked on the way: inner nodes must be UnixFS file nodes or raw blocks, each child
 * must hold exactly the bytes its parent records, and the DAG no deeper than MAX_DEPTH, so a
 * hostile DAG is refused (an `UnsafeContentError` naming `where`) rather than written wrong.
 */
export async function * fileContent (
  file: FileNode,
  where: string,
  blockstore: Pick<Blockstore, 'get'>,
  options: { signal?: AbortSignal, depth?: number, open?: OpenNodes } = {}
): AsyncGenerator<Uint8Array> {
  yield * content(file, where, options.depth ?? 0, blockstore, { free: READ_AHEAD }, options.open ?? new OpenNodes(), options.signal)
}

async function * content (node: FileNode, where: string, depth: number, blockstore: Pick<Blockstore, 'get'>, slots: Slots, open: OpenNodes, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  if (node.raw !== undefined) {
    if (node.raw.length > 0) yield node.raw
    return
  }
  const data = node.unixfs?.data
  if (data !== undefined && data.length > 0) yield data
  const links = node.pb?.Links ?? []
  if (links.length === 0) return
  if (depth + 1 > MAX_DEPTH) throw new UnsafeContentError(printable(where), `is a file whose DAG nests deeper than ${MAX_DEPTH} levels; bac does not follow it`)
  const sizes = node.unixfs?.blockSizes ?? []
  const share = open.take(node, where)
  // reads of the links from `next - ahead.length` on, started ahead, each holding a slot
  const ahead: Array<Promise<Uint8Array>> = []
  let next = 0
  const start = (index: number): Promise<Uint8Array> => {
    const reading = blockAt((links[index] as { Hash: FileNode['cid'] }).Hash, where, blockstore, signal)
    reading.catch(() => {})
    return reading
  }
  try {
    for (let i = 0; i < links.length; i++) {
      let reading: Promise<Uint8Array>
      if (ahead.length > 0) {
        reading = ahead.shift() as Promise<Uint8Array>
        slots.free++
      } else {
        reading = start(i)
        next = i + 1
      }
      while (next < links.length && slots.free > 0) {
        ahead.push(start(next++))
        slots.free--
      }
      const link = links[i] as { Hash: FileNode['cid'] }
      const child = decodeNode(link.Hash, await reading, where)
      if (child.kind !== 'file') throw new UnsafeContentError(printable(where), `is a file whose DAG holds a ${child.kind === 'hamt' ? 'sharded folder' : 'folder'} node (${link.Hash.toString()})`)
      const expected = Number(sizes[i])
      let got = 0
      for await (const piece of content(child, where, depth + 1, blockstore, slots, open, signal)) {
        got += piece.length
        if (got > expected) break
        yield piece
      }
      if (got !== expected) {
        throw new UnsafeContentError(printable(where), `is a file whose block ${link.Hash.toString()} holds ${got > expected ? 'more than' : 'only'} ${got} bytes where its parent records ${expected}`)
      }
    }
  } finally {
    // slots of reads not taken (an error, or the consumer stopped) go back
    slots.free += ahead.length
    open.give(share)
  }
}
