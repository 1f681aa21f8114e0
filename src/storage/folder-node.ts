import * as dagPb from '@ipld/dag-pb'
import type { Blockstore } from 'interface-blockstore'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { blockCid, readBlock } from './blocks.js'

/**
 * The size past which Kubo stores a folder as a sharded (HAMT) directory, estimated as it does
 * ("links-bytes": names plus CID bytes). Up to it, a folder is one dag-pb node.
 */
export const SHARD_THRESHOLD_BYTES = 262_144

/** A link of a folder node; `tsize` (the bytes of the DAG under it) is read from the store when not known. */
export interface FolderLink {
  name: string
  cid: CID
  tsize?: number
}

/** The size of the whole DAG under a CID, as a link's Tsize records it. */
async function treeSize (cid: CID, blockstore: Pick<Blockstore, 'get'>): Promise<number> {
  const bytes = await readBlock(cid, blockstore)
  if (cid.code !== dagPb.code) return bytes.length
  return bytes.length + dagPb.decode(bytes).Links.reduce((sum, link) => sum + (link.Tsize ?? 0), 0)
}

/** Whether a folder with these links stays one node (is not sharded) when Kubo writes it. */
export function fitsOneNode (links: ReadonlyArray<{ name: string, cidBytes: number }>): boolean {
  return links.reduce((sum, l) => sum + Buffer.byteLength(l.name) + l.cidBytes, 0) <= SHARD_THRESHOLD_BYTES
}

/**
 * Writes one UnixFS folder node linking to existing content, in one go, exactly as Kubo writes a
 * folder: UnixFS directory data, links sorted by name, each link's Tsize the size of its DAG.
 * Returns its CID and its own Tsize.
 */
export async function writeFolderNode (links: readonly FolderLink[], blockstore: Pick<Blockstore, 'get' | 'put'>): Promise<{ cid: CID, tsize: number }> {
  const prepared = await Promise.all(links.map(async (l) => ({ Name: l.name, Hash: l.cid, Tsize: l.tsize ?? await treeSize(l.cid, blockstore) })))
  const bytes = dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: prepared }))
  const cid = blockCid(bytes)
  await blockstore.put(cid, bytes)
  return { cid, tsize: bytes.length + prepared.reduce((sum, l) => sum + l.Tsize, 0) }
}
