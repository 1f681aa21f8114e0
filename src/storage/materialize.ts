import { mkdir, rename, rm } from 'node:fs/promises'
import { createWriteStream, existsSync } from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { exporter, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import type { Blockstore } from 'interface-blockstore'
import { UnsafeContentError } from '../interfaces/errors.js'

/** A name from a DAG: one plain path segment, never `.`, `..`, empty or holding a separator. */
function safeSegment (name: string, cid: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\0')) {
    throw new UnsafeContentError(cid, `holds an entry named ${JSON.stringify(name)}, which cannot be written safely`)
  }
  return name
}

/**
 * Writes the file or folder at `source` (a CID or `cid/path`) to `target`: first into a temporary
 * sibling, renamed into place when complete, so `target` never holds a partial copy.
 */
export async function materialize (source: string, target: string, blockstore: Pick<Blockstore, 'get'>, signal?: AbortSignal): Promise<void> {
  if (existsSync(target)) throw new UnsafeContentError(target, 'already exists; give a path that does not exist yet')
  const staging = `${target}.partial-${process.pid}-${Date.now()}`
  await mkdir(path.dirname(target), { recursive: true })
  try {
    await writeTree(source, staging, blockstore, limiter(FILES_IN_FLIGHT), signal)
    await rename(staging, target)
  } catch (err) {
    await rm(staging, { recursive: true, force: true })
    throw err
  }
}

/** Files written at once. */
const FILES_IN_FLIGHT = 8

type Limit = <T>(task: () => Promise<T>) => Promise<T>

/** Runs tasks with at most `max` at once. */
function limiter (max: number): Limit {
  let running = 0
  const waiting: Array<() => void> = []
  return async (task) => {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve))
    running++
    try {
      return await task()
    } finally {
      running--
      waiting.shift()?.()
    }
  }
}

/**
 * Writes one entry, and a folder's children under it. Siblings are written side by side (files
 * at most FILES_IN_FLIGHT at once): a result holds many small folders, each a round trip.
 */
async function writeTree (source: string | CID, destination: string, blockstore: Pick<Blockstore, 'get'>, limit: Limit, signal?: AbortSignal): Promise<void> {
  const entry: UnixFSEntry = await exporter(source, blockstore, { signal })
  if (entry.type === 'directory') {
    await mkdir(destination)
    const children: Array<Promise<void>> = []
    for await (const child of entry.entries({ signal })) {
      children.push(writeTree(child.cid, path.join(destination, safeSegment(child.name, entry.cid.toString())), blockstore, limit, signal))
    }
    const settled = await Promise.allSettled(children)
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  } else if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
    await limit(async () => { await pipeline(Readable.from(entry.content({ signal })), createWriteStream(destination, { flags: 'wx' }), { signal }) })
  } else {
    throw new UnsafeContentError(entry.cid.toString(), `is a ${entry.type} node, not a UnixFS file or folder`)
  }
}
