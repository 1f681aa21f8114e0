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
    await writeTree(source, staging, blockstore, signal)
    await rename(staging, target)
  } catch (err) {
    await rm(staging, { recursive: true, force: true })
    throw err
  }
}

/** Writes one entry, and a folder's children under it, depth first. */
async function writeTree (source: string | CID, destination: string, blockstore: Pick<Blockstore, 'get'>, signal?: AbortSignal): Promise<void> {
  const entry: UnixFSEntry = await exporter(source, blockstore, { signal })
  if (entry.type === 'directory') {
    await mkdir(destination, { recursive: true })
    for await (const child of entry.entries({ signal })) {
      await writeTree(child.cid, path.join(destination, safeSegment(child.name, entry.cid.toString())), blockstore, signal)
    }
  } else if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
    await pipeline(Readable.from(entry.content({ signal })), createWriteStream(destination, { flags: 'wx' }), { signal })
  } else {
    throw new UnsafeContentError(entry.cid.toString(), `is a ${entry.type} node, not a UnixFS file or folder`)
  }
}
