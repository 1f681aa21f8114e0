import { createHash } from 'node:crypto'
import type { Blockstore, Pair } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { identity } from 'multiformats/hashes/identity'
import * as dagPb from '@ipld/dag-pb'

/** The CIDv0 of a dag-pb block (sha2-256, hashed by node's crypto). */
export function blockCid (bytes: Uint8Array): CID {
  return CID.createV0(createDigest(sha256.code, createHash('sha256').update(bytes).digest()))
}

/** A block's bytes, whole, however the blockstore hands them out. */
export async function readBlock (cid: CID, blockstore: Pick<Blockstore, 'get'>, signal?: AbortSignal): Promise<Uint8Array> {
  const pieces: Uint8Array[] = []
  for await (const piece of blockstore.get(cid, { signal })) pieces.push(piece)
  return pieces.length === 1 ? pieces[0] as Uint8Array : Buffer.concat(pieces)
}

export type Limit = <T>(task: () => Promise<T>) => Promise<T>

/** Runs tasks with at most `max` at once; the rest wait their turn. */
export function limiter (max: number): Limit {
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

/** The CIDs a block links to: a dag-pb node's links; raw blocks link to nothing. */
export function blockLinks (cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code !== dagPb.code) return []
  return dagPb.decode(bytes).Links.map((l) => l.Hash)
}

/** Whether a block's bytes are what its CID names (sha2-256 and identity hashes are checked; others are refused). */
export function blockMatches (cid: CID, bytes: Uint8Array): boolean {
  if (cid.multihash.code === sha256.code) return Buffer.from(cid.multihash.digest).equals(createHash('sha256').update(bytes).digest())
  if (cid.multihash.code === identity.code) return Buffer.from(cid.multihash.digest).equals(bytes)
  return false
}

/** A block's bytes, whether given whole or in pieces (as a blockstore's `put` may get them). */
export async function blockBytes (value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  if (value instanceof Uint8Array) return value
  const pieces: Uint8Array[] = []
  for await (const piece of value) pieces.push(piece)
  return Buffer.concat(pieces)
}

/** A block as `getMany` and `getAll` yield it: its bytes as a one-piece stream. */
export function blockPair (cid: CID, bytes: Uint8Array): Pair {
  return { cid, bytes: (function * () { yield bytes })() }
}
