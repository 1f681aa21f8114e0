import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { createWriteStream, existsSync } from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { exporter, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import type { Blockstore } from 'interface-blockstore'
import { UnsafeContentError } from '../interfaces/errors.js'
import { limiter, readBlock, type Limit } from './blocks.js'

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

/**
 * A folder node or a one-block file, read straight from its block; undefined for anything else
 * (a sharded folder, a file of several blocks, a raw block), which the exporter handles.
 */
async function simpleNode (cid: CID, blockstore: Pick<Blockstore, 'get'>, signal?: AbortSignal): Promise<{ kind: 'folder', links: dagPb.PBLink[] } | { kind: 'file', data: Uint8Array } | undefined> {
  if (cid.code !== dagPb.code) return undefined
  const node = dagPb.decode(await readBlock(cid, blockstore, signal))
  if (node.Data === undefined) return undefined
  let data: UnixFS
  try {
    data = UnixFS.unmarshal(node.Data)
  } catch {
    return undefined
  }
  if (data.type === 'directory') return { kind: 'folder', links: node.Links }
  if (data.type === 'file' && node.Links.length === 0) return { kind: 'file', data: data.data ?? new Uint8Array(0) }
  return undefined
}

/**
 * Writes one entry, and a folder's children under it. Siblings are written side by side (files
 * at most FILES_IN_FLIGHT at once): a result holds many small folders, each a round trip. Plain
 * folders and one-block files are decoded here; the rest goes through the exporter.
 */
async function writeTree (source: string | CID, destination: string, blockstore: Pick<Blockstore, 'get'>, limit: Limit, signal?: AbortSignal): Promise<void> {
  const simple = typeof source === 'string' ? undefined : await simpleNode(source, blockstore, signal)
  if (simple?.kind === 'folder') {
    await mkdir(destination)
    await settleAll(simple.links.map(async (link) => { await writeTree(link.Hash, path.join(destination, safeSegment(link.Name ?? '', source.toString())), blockstore, limit, signal) }))
    return
  }
  if (simple?.kind === 'file') {
    await limit(async () => { await writeFile(destination, simple.data, { flag: 'wx', signal }) })
    return
  }
  const entry: UnixFSEntry = await exporter(source, blockstore, { signal })
  if (entry.type === 'directory') {
    await mkdir(destination)
    const children: Array<Promise<void>> = []
    for await (const child of entry.entries({ signal })) {
      children.push(writeTree(child.cid, path.join(destination, safeSegment(child.name, entry.cid.toString())), blockstore, limit, signal))
    }
    await settleAll(children)
  } else if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
    await limit(async () => { await pipeline(Readable.from(entry.content({ signal })), createWriteStream(destination, { flags: 'wx' }), { signal }) })
  } else {
    throw new UnsafeContentError(entry.cid.toString(), `is a ${entry.type} node, not a UnixFS file or folder`)
  }
}

/** Waits for every task, then fails with the first failure: nothing is left writing. */
async function settleAll (tasks: Array<Promise<void>>): Promise<void> {
  const settled = await Promise.allSettled(tasks)
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
}
