import { existsSync } from 'node:fs'
import { mkdir, open, rename, rm, statfs } from 'node:fs/promises'
import path from 'node:path'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { DiskSpaceError, InvalidOptionError, UnsafeContentError } from '../interfaces/errors.js'
import { fileContent } from './file-content.js'
import { measure, type Measure } from './measure.js'
import { WritePool } from './write-pool.js'
import { folderEntries, MAX_DEPTH, OpenNodes, printable, readNode, type FileNode, type FolderNode, type UnixfsNode } from './unixfs-node.js'

/** Files and folders written out at most, by default: a folder linked over and over (a "DAG bomb") expands past it from a few KiB. */
export const DEFAULT_MAX_ENTRIES = 1_000_000
/** Bytes of file content written out at most, by default (1 TiB); the free disk space bounds it too. */
export const DEFAULT_MAX_BYTES = 1024 ** 4
/** Files written at once. */
const FILES_IN_FLIGHT = 8

export interface MaterializeOptions {
  readonly signal?: AbortSignal
  /** Files and folders written at most. @default DEFAULT_MAX_ENTRIES */
  readonly maxEntries?: number
  /** Bytes of file content written at most. @default DEFAULT_MAX_BYTES */
  readonly maxBytes?: number
}

/**
 * Writes the file or folder at `root` (the node of `source`, shown in errors as `source`) to
 * `target`: first into a temporary sibling, renamed into place when complete, so `target` never
 * holds a partial copy, and nothing is left behind when it fails.
 *
 * Nothing from the DAG is trusted: before anything is written, the whole DAG's folders are read
 * once and checked (names, kinds, depth, duplicates, how many entries and bytes it expands to,
 * and that the disk has room); the file contents are checked as they are written. A refusal is
 * an `UnsafeContentError` naming the entry's path inside the DAG and what is wrong with it.
 * Memory stays bounded whatever the DAG: folders are walked depth first, at most
 * FILES_IN_FLIGHT files written at once, each read a few blocks ahead.
 */
export async function materialize (root: CID, source: string, target: string, blockstore: Pick<Blockstore, 'get'>, options: MaterializeOptions = {}): Promise<void> {
  const { signal } = options
  const limits = { maxEntries: options.maxEntries ?? DEFAULT_MAX_ENTRIES, maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES }
  if (!(limits.maxEntries >= 1)) throw new InvalidOptionError('maxEntries', `must be a number of at least 1, got ${limits.maxEntries}`)
  if (!(limits.maxBytes >= 0)) throw new InvalidOptionError('maxBytes', `must be a number of at least 0, got ${limits.maxBytes}`)
  if (existsSync(target)) throw new UnsafeContentError(target, 'already exists; give a path that does not exist yet')
  const totals = await measure(root, source, blockstore, signal)
  checkLimits(totals, source, limits)
  const parent = path.dirname(target)
  await mkdir(parent, { recursive: true })
  await checkSpace(totals, parent, target)
  const staging = `${target}.partial-${process.pid}-${Date.now()}`
  const pool = new WritePool(FILES_IN_FLIGHT, signal)
  try {
    const node = await readNode(root, source, blockstore, pool.signal)
    await writeNode(node, source, staging, 0, { blockstore, pool, open: new OpenNodes() })
    await pool.drain()
    await rename(staging, target)
  } catch (err) {
    await pool.settle()
    await rm(staging, { recursive: true, force: true })
    throw spaceError(err, target)
  }
}

function checkLimits (totals: Measure, source: string, { maxEntries, maxBytes }: { maxEntries: number, maxBytes: number }): void {
  if (totals.entries > maxEntries) {
    throw new UnsafeContentError(printable(source), `expands to ${count(totals.entries)} files and folders, more than the ${count(maxEntries)} bac writes out ` +
      `(is one folder linked many times over?); nothing was written`)
  }
  if (totals.bytes > maxBytes) {
    throw new UnsafeContentError(printable(source), `expands to ${bytes(totals.bytes)} of files, more than the ${bytes(maxBytes)} bac writes out ` +
      `(is one file linked many times over?); nothing was written`)
  }
}

/** Refuses at once what would not fit on the disk (each entry counted as a block more than its bytes). */
async function checkSpace (totals: Measure, folder: string, target: string): Promise<void> {
  const disk = await statfs(folder)
  const free = disk.bavail * disk.bsize
  const need = totals.bytes + totals.entries * disk.bsize
  if (need > free) throw new DiskSpaceError(target, `needs about ${bytes(need)} of disk and only ${bytes(free)} is free there; free some space or write it elsewhere`)
}

function spaceError (err: unknown, target: string): unknown {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOSPC' || code === 'EDQUOT') return new DiskSpaceError(target, 'the disk filled up while it was written; nothing was kept. Free some space or write it elsewhere', { cause: err })
  return err
}

const count = (n: number): string => Number.isFinite(n) ? n.toLocaleString('en-US') : 'countless'
function bytes (n: number): string {
  if (!Number.isFinite(n)) return 'countless bytes'
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB']
  let unit = 0
  while (n >= 1024 && unit < units.length - 1) { n /= 1024; unit++ }
  return unit === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[unit] as string}`
}

interface WriteContext {
  readonly blockstore: Pick<Blockstore, 'get'>
  readonly pool: WritePool
  readonly open: OpenNodes
}

/** Writes one node: a folder (its entries depth first, in order) or a file (in the pool). */
async function writeNode (node: UnixfsNode, where: string, destination: string, depth: number, ctx: WriteContext): Promise<void> {
  if (node.kind === 'file') {
    await ctx.pool.add(async (signal) => { await writeFile(node, where, destination, depth, ctx, signal) })
    return
  }
  await writeFolder(node, where, destination, depth, ctx)
}

async function writeFolder (folder: FolderNode, where: string, destination: string, depth: number, ctx: WriteContext): Promise<void> {
  try {
    await mkdir(destination)
  } catch (err) {
    throw duplicate(err, where)
  }
  const share = ctx.open.take(folder, where)
  try {
    for await (const entry of folderEntries(folder, where, depth, ctx.blockstore, ctx.open, ctx.pool.signal)) {
      ctx.pool.check()
      const at = `${where}/${entry.name}`
      if (depth + 1 > MAX_DEPTH) throw new UnsafeContentError(printable(at), `nests deeper than ${MAX_DEPTH} levels; bac does not follow it`)
      const child = await readNode(entry.cid, at, ctx.blockstore, ctx.pool.signal)
      await writeNode(child, at, path.join(destination, entry.name), depth + 1, ctx)
    }
  } finally {
    ctx.open.give(share)
  }
}

async function writeFile (file: FileNode, where: string, destination: string, depth: number, ctx: WriteContext, signal: AbortSignal): Promise<void> {
  let handle
  try {
    handle = await open(destination, 'wx')
  } catch (err) {
    throw duplicate(err, where)
  }
  try {
    for await (const piece of fileContent(file, where, ctx.blockstore, { signal, depth, open: ctx.open })) {
      let written = 0
      while (written < piece.length) written += (await handle.write(piece, written, piece.length - written)).bytesWritten
    }
  } finally {
    await handle.close()
  }
}

/** A name taken twice in one folder shows as an entry that already exists. */
function duplicate (err: unknown, where: string): unknown {
  if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return err
  const slash = where.lastIndexOf('/')
  return new UnsafeContentError(printable(where.slice(0, slash)), `holds two entries named ${JSON.stringify(where.slice(slash + 1))}; nothing was written`)
}
