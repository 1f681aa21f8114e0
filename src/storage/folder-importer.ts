import type { PathScope } from '../interfaces/content-store.js'
import { lstat, readdir, realpath } from 'node:fs/promises'
import path from 'node:path'
import type { Blockstore } from 'interface-blockstore'
import { assertInside } from '../common/files.js'
import { UnsafeContentError } from '../interfaces/errors.js'
import { limiter, type Limit } from './blocks.js'
import { importFile, type ImportedNode, type PutBlock } from './file-importer.js'
import { fitsOneNode, writeFolderNode, type FolderLink } from './folder-node.js'

/** Every CID this importer makes is a CIDv0: a 34-byte sha2-256 multihash. */
const CIDV0_BYTES = 34

/** Files imported at once (in the whole tree): enough to keep the disk busy on many small files. */
const FILES_IN_FLIGHT = 8

/** A folder's file names and sub-folders: names only (paths are joined as files are imported), so a tree of 100,000 files is a few MB. */
interface FolderPlan {
  files: string[]
  folders: Array<{ name: string, plan: FolderPlan }>
}

/**
 * Reads a folder tree, hidden files included. Symbolic links and special files are refused before
 * anything is stored: what a step writes must not point outside itself once stored.
 */
async function plan (dir: string, within: PathScope | undefined, signal?: AbortSignal): Promise<FolderPlan> {
  signal?.throwIfAborted()
  if (within !== undefined) {
    const real = await realpath(dir)
    assertInside(dir, real, within, real)
  }
  const result: FolderPlan = { files: [], folders: [] }
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) result.folders.push({ name: entry.name, plan: await plan(full, within, signal) })
    else if (entry.isFile()) result.files.push(entry.name)
    else {
      const kind = (await lstat(full)).isSymbolicLink() ? 'a symbolic link' : 'a special file'
      throw new UnsafeContentError(full, `is ${kind}; only files and folders can be stored`)
    }
  }
  const names = [...result.files, ...result.folders.map((e) => e.name)]
  if (!fitsOneNode(names.map((name) => ({ name, cidBytes: CIDV0_BYTES })))) throw new ShardedFolder()
  return result
}

/** Too large for one node: Kubo would shard it, which the caller's general importer does. */
export class ShardedFolder extends Error {}

async function importPlan (
  dir: string,
  folder: FolderPlan,
  put: PutBlock,
  blockstore: Pick<Blockstore, 'get' | 'put'>,
  limit: Limit,
  within: PathScope | undefined,
  signal?: AbortSignal
): Promise<ImportedNode> {
  const files = await Promise.all(folder.files.map(async (name) => ({ name, ...await limit(async () => await importFile(path.join(dir, name), put, signal, within)) })))
  const folders: Array<FolderLink & ImportedNode> = []
  for (const { name, plan: sub } of folder.folders) folders.push({ name, ...await importPlan(path.join(dir, name), sub, put, blockstore, limit, within, signal) })
  const links = [...files, ...folders]
  const node = await writeFolderNode(links, blockstore)
  return { ...node, fileSize: links.reduce((sum, l) => sum + l.fileSize, 0) }
}

/**
 * Adds a folder tree as Kubo's `ipfs add -r` does: each file with the file importer, each folder
 * as one node. Throws ShardedFolder when a folder is too large to be one node, so the caller
 * falls back to an importer that shards. With `within`, every folder and file read must lie in
 * one of those real folders.
 */
export async function importFolder (dir: string, put: PutBlock, blockstore: Pick<Blockstore, 'get' | 'put'>, signal?: AbortSignal, within?: PathScope): Promise<ImportedNode> {
  return await importPlan(dir, await plan(dir, within, signal), put, blockstore, limiter(FILES_IN_FLIGHT), within, signal)
}
