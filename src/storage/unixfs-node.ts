import * as dagPb from '@ipld/dag-pb'
import type { Blockstore } from 'interface-blockstore'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { ContentNotFoundError, UnsafeContentError } from '../interfaces/errors.js'
import { readBlock } from './blocks.js'

/**
 * Levels of nodes below the root that bac follows when it reads a DAG out: folders, HAMT shards
 * and the inner nodes of files all count. Kubo's deepest file of a terabyte is 4 levels, and a
 * path 256 folders deep is far past what any tool makes; a hostile DAG can nest without end.
 */
export const MAX_DEPTH = 256
/** The longest entry name Linux takes (NAME_MAX), in bytes. */
export const MAX_NAME_BYTES = 255
/**
 * The most memory the nodes open on the way down to an entry may hold (their blocks, and about
 * 256 bytes a link): Kubo shards a folder past 256 KiB, so a real DAG holds a few MiB at most.
 */
export const MAX_OPEN_BYTES = 64 * 1024 * 1024
/** HAMT fanouts accepted (Kubo and js-ipfs use 256). */
const MAX_FANOUT = 4096n

/** A file node: its size (of content) and what reading it needs. */
export interface FileNode {
  readonly kind: 'file'
  readonly cid: CID
  readonly size: number
  /** The whole content, for a raw or identity block. */
  readonly raw?: Uint8Array
  /** The decoded node, for a dag-pb file. */
  readonly pb?: dagPb.PBNode
  readonly unixfs?: UnixFS
  /** The block's length, what holding it costs. */
  readonly length: number
}

/** A folder node: plain (one node) or HAMT-sharded. */
export interface FolderNode {
  readonly kind: 'folder' | 'hamt'
  readonly cid: CID
  readonly links: dagPb.PBLink[]
  readonly fanout?: bigint
  readonly length: number
}

export type UnixfsNode = FileNode | FolderNode

const CODECS: Record<number, string> = { 0x71: 'dag-cbor', 0x0129: 'dag-json', 0x0200: 'json', 0x78: 'git-raw', 0x90: 'eth-block' }

/** A path or name with control characters escaped, so an error message stays one line. */
export function printable (text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

/**
 * A name from a folder of a DAG, which becomes a file or folder name on disk: one plain path
 * segment of at most 255 bytes, never empty, `.`, `..`, nor holding `/`, `\` or NUL.
 */
export function checkName (name: string | undefined, where: string): string {
  const problem = name === undefined || name === ''
    ? 'an entry with no name'
    : name === '.' || name === '..'
      ? `an entry named ${JSON.stringify(name)}`
      : name.includes('/') || name.includes('\\')
        ? `an entry named ${JSON.stringify(name)}, which holds a path separator`
        : name.includes('\0')
          ? `an entry named ${JSON.stringify(name)}, which holds a NUL character`
          : Buffer.byteLength(name) > MAX_NAME_BYTES
            ? `an entry named ${JSON.stringify(name.slice(0, 40))}… of ${Buffer.byteLength(name)} bytes (names are at most ${MAX_NAME_BYTES})`
            : undefined
  if (problem !== undefined) throw new UnsafeContentError(printable(where), `holds ${problem}; bac writes only plain names, so nothing was written`)
  return name as string
}

/** A block's bytes (an identity CID's are its digest), a missing block named by where it is in the DAG. */
export async function blockAt (cid: CID, where: string, blockstore: Pick<Blockstore, 'get'>, signal?: AbortSignal): Promise<Uint8Array> {
  if (cid.multihash.code === identity.code) return cid.multihash.digest
  try {
    return await readBlock(cid, blockstore, signal)
  } catch (err) {
    if (err instanceof Error && !(err instanceof ContentNotFoundError) && /NotFound/i.test(err.name)) {
      const detail = where === cid.toString() ? 'it is not in the local store' : `its block ${cid.toString()} is not in the local store`
      throw new ContentNotFoundError(printable(where), detail, { cause: err })
    }
    throw err
  }
}

/**
 * Decodes a block met where a file or folder is expected, refusing anything bac will not write:
 * symbolic links, UnixFS metadata, nodes of other codecs (dag-cbor, …), broken dag-pb or UnixFS.
 */
export function decodeNode (cid: CID, block: Uint8Array, where: string): UnixfsNode {
  const at = printable(where)
  if (cid.code === 0x55) return { kind: 'file', cid, size: block.length, raw: block, length: block.length }
  if (cid.code !== dagPb.code) {
    throw new UnsafeContentError(at, `is a ${CODECS[cid.code] ?? `codec 0x${cid.code.toString(16)}`} node, not a UnixFS file or folder; bac writes only UnixFS`)
  }
  let pb: dagPb.PBNode
  let unixfs: UnixFS
  try {
    pb = dagPb.decode(block)
  } catch (err) {
    throw new UnsafeContentError(at, `is not a valid dag-pb node (${(err as Error).message})`)
  }
  if (pb.Data === undefined) throw new UnsafeContentError(at, 'is a dag-pb node without UnixFS data, not a file or folder')
  try {
    unixfs = UnixFS.unmarshal(pb.Data)
  } catch (err) {
    throw new UnsafeContentError(at, `holds UnixFS data that does not parse (${(err as Error).message})`)
  }
  switch (unixfs.type) {
    case 'directory':
      return { kind: 'folder', cid, links: pb.Links, length: block.length }
    case 'hamt-sharded-directory': {
      const fanout = unixfs.fanout
      if (fanout === undefined || fanout < 2n || fanout > MAX_FANOUT || (fanout & (fanout - 1n)) !== 0n) {
        throw new UnsafeContentError(at, `is a sharded folder with a fanout of ${String(fanout)}; bac reads powers of two up to ${MAX_FANOUT}`)
      }
      return { kind: 'hamt', cid, links: pb.Links, fanout, length: block.length }
    }
    case 'file':
    case 'raw': {
      if (pb.Links.length !== unixfs.blockSizes.length) {
        throw new UnsafeContentError(at, `is a file node with ${pb.Links.length} links but ${unixfs.blockSizes.length} block sizes`)
      }
      const size = unixfs.fileSize()
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new UnsafeContentError(at, `is a file that claims ${size} bytes`)
      return { kind: 'file', cid, size: Number(size), pb, unixfs, length: block.length }
    }
    case 'symlink':
      throw new UnsafeContentError(at, 'is a symbolic link; bac writes only files and folders, never links')
    default:
      throw new UnsafeContentError(at, `is a UnixFS ${unixfs.type} node, not a file or folder`)
  }
}

/** Reads and decodes the node at `cid` (see `decodeNode`). */
export async function readNode (cid: CID, where: string, blockstore: Pick<Blockstore, 'get'>, signal?: AbortSignal): Promise<UnixfsNode> {
  return decodeNode(cid, await blockAt(cid, where, blockstore, signal), where)
}

/**
 * What the nodes open on the way down to an entry hold: each node taken while its links are
 * followed, given back after. Past MAX_OPEN_BYTES the DAG is refused: it nests wide nodes so deep
 * that following it would hold more memory than any real DAG needs.
 */
export class OpenNodes {
  private bytes = 0

  /** Takes a node's share; returns what to give back. */
  take (node: { length: number, links?: readonly unknown[], pb?: dagPb.PBNode }, where: string): number {
    const share = node.length + 256 * (node.links?.length ?? node.pb?.Links.length ?? 0)
    if (this.bytes + share > MAX_OPEN_BYTES) {
      throw new UnsafeContentError(printable(where), `nests nodes so wide so deep that following it would hold more than ${MAX_OPEN_BYTES / 1024 / 1024} MiB; bac does not read such a DAG`)
    }
    this.bytes += share
    return share
  }

  give (share: number): void {
    this.bytes -= share
  }
}

/** An entry of a folder: its checked name and its CID. */
export interface FolderEntry {
  readonly name: string
  readonly cid: CID
}

/**
 * The entries of a folder, plain or HAMT-sharded, each name checked (`checkName`). A shard's
 * links are checked too: a hex prefix of the fanout's width, sub-shards that are shards, no
 * sub-shard linked twice, no deeper than MAX_DEPTH.
 */
export async function * folderEntries (folder: FolderNode, where: string, depth: number, blockstore: Pick<Blockstore, 'get'>, open: OpenNodes, signal?: AbortSignal): AsyncGenerator<FolderEntry> {
  if (folder.kind === 'folder') {
    for (const link of folder.links) yield { name: checkName(link.Name, where), cid: link.Hash }
    return
  }
  yield * shardEntries(folder, where, depth, blockstore, open, new Set([folder.cid.toString()]), signal)
}

async function * shardEntries (
  shard: FolderNode,
  where: string,
  depth: number,
  blockstore: Pick<Blockstore, 'get'>,
  open: OpenNodes,
  shards: Set<string>,
  signal?: AbortSignal
): AsyncGenerator<FolderEntry> {
  const width = ((shard.fanout ?? 256n) - 1n).toString(16).length
  if (shard.links.length > Number(shard.fanout ?? 256n)) throw new UnsafeContentError(printable(where), `is a sharded folder whose shard ${shard.cid.toString()} has more links than its fanout`)
  for (const link of shard.links) {
    const label = link.Name ?? ''
    if (label.length < width || !/^[0-9A-Fa-f]+$/.test(label.slice(0, width))) {
      throw new UnsafeContentError(printable(where), `is a sharded folder with a link labelled ${JSON.stringify(label)}, not a ${width}-digit hex prefix and a name`)
    }
    if (label.length > width) {
      yield { name: checkName(label.slice(width), where), cid: link.Hash }
      continue
    }
    if (depth + 1 > MAX_DEPTH) throw new UnsafeContentError(printable(where), `nests deeper than ${MAX_DEPTH} levels; bac does not follow it`)
    const key = link.Hash.toString()
    if (shards.has(key)) throw new UnsafeContentError(printable(where), `is a sharded folder that links its shard ${key} more than once`)
    shards.add(key)
    const sub = await readNode(link.Hash, where, blockstore, signal)
    if (sub.kind !== 'hamt') throw new UnsafeContentError(printable(where), `is a sharded folder whose shard ${label} is ${sub.kind === 'file' ? 'a file' : 'a plain folder'}, not a shard`)
    const share = open.take(sub, where)
    try {
      yield * shardEntries(sub, where, depth + 1, blockstore, open, shards, signal)
    } finally {
      open.give(share)
    }
  }
}
