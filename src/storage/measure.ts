import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { UnsafeContentError } from '../interfaces/errors.js'
import { folderEntries, MAX_DEPTH, OpenNodes, printable, readNode } from './unixfs-node.js'

/** What a DAG expands to when written out. */
export interface Measure {
  /** Files and folders, the root included; each time an entry appears counts. */
  readonly entries: number
  /** Bytes of file content, likewise. */
  readonly bytes: number
  /** Levels of entries, the root's included (a file is 1). */
  readonly height: number
}

/** Folders measured at once after a folder's entries are known. */
const READ_AHEAD = 16

/**
 * What the file or folder at `root` expands to, reading only its folders and the first block of
 * each file, and checking every entry on the way (see `folderEntries` and `decodeNode`): names,
 * kinds, duplicate names in a folder, depth. A sub-folder met again is counted from what it was
 * found to hold the first time, so a "DAG bomb" (a folder linking the same folder twice, twenty
 * levels down: a million entries from a few KiB) is measured in as many steps as it has blocks.
 */
export async function measure (root: CID, where: string, blockstore: Pick<Blockstore, 'get'>, signal?: AbortSignal): Promise<Measure> {
  const memo = new Map<string, Measure>()
  const open = new OpenNodes()

  /** A file's measure, or 'folder' for a folder not measured yet; the block is not kept. */
  const peek = async (cid: CID, at: string): Promise<Measure | 'folder'> => {
    const known = memo.get(cid.toString())
    if (known !== undefined) return known
    const node = await readNode(cid, at, blockstore, signal)
    return node.kind === 'file' ? { entries: 1, bytes: node.size, height: 1 } : 'folder'
  }

  const folder = async (cid: CID, at: string, depth: number): Promise<Measure> => {
    const key = cid.toString()
    const known = memo.get(key)
    if (known !== undefined) return known
    if (depth > MAX_DEPTH) throw new UnsafeContentError(printable(at), `nests deeper than ${MAX_DEPTH} levels; bac does not follow it`)
    const node = await readNode(cid, at, blockstore, signal)
    if (node.kind === 'file') return { entries: 1, bytes: node.size, height: 1 }
    const names = new Set<string>()
    let entries = 1
    let bytes = 0
    let height = 1
    const share = open.take(node, at)
    // the entries' first blocks are read a few at a time, in order
    const ahead: Array<{ at: string, cid: CID, peek: Promise<Measure | 'folder'> }> = []
    const settle = async (): Promise<void> => {
      const next = ahead.shift() as (typeof ahead)[number]
      const peeked = await next.peek
      const child = peeked === 'folder' ? await folder(next.cid, next.at, depth + 1) : peeked
      if (depth + child.height > MAX_DEPTH) throw new UnsafeContentError(printable(next.at), `nests deeper than ${MAX_DEPTH} levels; bac does not follow it`)
      entries += child.entries
      bytes += child.bytes
      height = Math.max(height, child.height + 1)
    }
    try {
      for await (const entry of folderEntries(node, at, depth, blockstore, open, signal)) {
        if (names.has(entry.name)) throw new UnsafeContentError(printable(at), `holds two entries named ${JSON.stringify(entry.name)}; nothing was written`)
        names.add(entry.name)
        const child = `${at}/${entry.name}`
        const peeking = peek(entry.cid, child)
        peeking.catch(() => {})
        ahead.push({ at: child, cid: entry.cid, peek: peeking })
        if (ahead.length >= READ_AHEAD) await settle()
      }
      while (ahead.length > 0) await settle()
    } finally {
      open.give(share)
    }
    const total = { entries, bytes, height }
    memo.set(key, total)
    return total
  }

  return await folder(root, where, 0)
}
