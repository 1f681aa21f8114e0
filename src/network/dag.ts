import * as dagPb from '@ipld/dag-pb'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { createHash } from 'node:crypto'

/** A block's bytes, whole, however the blockstore hands them out. */
export async function whole (pieces: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const list: Uint8Array[] = []
  for await (const piece of pieces) list.push(piece)
  return list.length === 1 ? list[0] as Uint8Array : Buffer.concat(list)
}

/** The CIDs a block links to (dag-pb); raw blocks link to nothing. */
export function links (cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code !== dagPb.code) return []
  return dagPb.decode(bytes).Links.map((l) => l.Hash)
}

/** Whether a block's bytes hash to its CID (sha2-256 only: the hash every bac and Kubo default uses). */
export function matches (cid: CID, bytes: Uint8Array): boolean {
  return cid.multihash.code === sha256.code && Buffer.from(cid.multihash.digest).equals(createHash('sha256').update(bytes).digest())
}

/** Whether every block under `root` is in the blockstore already (then nothing is asked of a peer). */
export async function complete (blockstore: Blockstore, root: CID): Promise<boolean> {
  const pending = [root]
  while (pending.length > 0) {
    const cid = pending.pop() as CID
    if (!await blockstore.has(cid)) return false
    if (cid.code === dagPb.code) pending.push(...links(cid, await whole(blockstore.get(cid))))
  }
  return true
}

/** The blocks under `root` while they stay under `maxBytes` together (sha2-256 ones only); undefined beyond. */
export async function smallDag (blockstore: Blockstore, root: string, maxBytes: number): Promise<Array<{ cid: string, data: Uint8Array }> | undefined> {
  const found: Array<{ cid: string, data: Uint8Array }> = []
  let bytes = 0
  const pending = [CID.parse(root)]
  while (pending.length > 0) {
    const cid = pending.pop() as CID
    if (cid.multihash.code !== sha256.code) return undefined
    const data = await whole(blockstore.get(cid))
    bytes += data.length
    if (bytes > maxBytes) return undefined
    found.push({ cid: cid.toString(), data })
    pending.push(...links(cid, data))
  }
  return found
}
