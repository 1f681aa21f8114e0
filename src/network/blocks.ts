import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { ContentNotFoundError, NetworkError } from '../interfaces/errors.js'

/**
 * Moves a whole DAG in one stream: the requester names a root, the provider sends every block
 * under it that it holds, each once, reading a few ahead. Bitswap asks block by block through its
 * wantlists; this sends them back to back, so a transfer runs at the speed of the connection.
 * Each block is checked against its CID before it is stored.
 *
 * Frames (length-prefixed): the request is JSON `{ root }`; the answer is a run of
 * `0x00 <cid bytes> <block bytes>` frames, then `0x01` (all sent) or `0x02 <reason>` (refused or
 * failed).
 */
export const BLOCKS_PROTOCOL = '/bac/blocks/1.0.0'

const BLOCK = 0
const END = 1
const FAILED = 2
/** No UnixFS block is larger (Kubo refuses blocks over 2 MiB); frames past it are refused. */
const MAX_BLOCK_FRAME = 4 * 1024 * 1024 + 256
/** Blocks received are stored in runs of this many bytes. */
const BATCH_BYTES = 4 * 1024 * 1024
/**
 * Bytes a fetch may hold unread: more than yamux's largest stream window (16 MiB), which is all
 * a peer can send past a pause. The muxer's own stream buffer must allow as much (see node.ts).
 */
export const READ_BUFFER_BYTES = 32 * 1024 * 1024
/** Blocks read ahead of the one being sent, so the disk and the connection work side by side. */
const READ_AHEAD = 8

export interface BlocksServerInit {
  readonly blockstore: Pick<Blockstore, 'get' | 'has'>
  /** Why this peer is not served, or undefined. */
  readonly refuse: (peer: string, connection: Connection) => string | undefined
  /** The CIDs a block links to. */
  readonly links: (cid: CID, bytes: Uint8Array) => CID[]
  /** A block's bytes, whole. */
  readonly read: (cid: CID) => Promise<Uint8Array>
  readonly log?: (line: string) => void
}

const encoder = new TextEncoder()

/** Serves `/bac/blocks/1.0.0` from this node's own blocks (it never asks its peers for them). */
export async function serveBlocks (libp2p: Libp2p, init: BlocksServerInit): Promise<void> {
  await libp2p.handle(BLOCKS_PROTOCOL, async (stream: Stream, connection: Connection) => {
    const lp = lpStream(stream, { maxDataLength: 64 * 1024 })
    const fail = async (reason: string): Promise<void> => {
      await lp.write(new Uint8ArrayList(Uint8Array.of(FAILED), encoder.encode(reason))).catch(() => {})
      await stream.close().catch(() => {})
    }
    try {
      const request = JSON.parse(new TextDecoder().decode((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())) as { root?: unknown }
      const peer = connection.remotePeer.toString()
      const refusal = init.refuse(peer, connection)
      if (refusal !== undefined) {
        init.log?.(`refused to send blocks to ${peer}: ${refusal}`)
        await fail(refusal)
        return
      }
      const root = CID.parse(String(request.root))
      const seen = new Set<string>()
      const pending: CID[] = [root]
      const reading: Array<{ cid: CID, bytes: Promise<Uint8Array> }> = []
      const fill = (): void => {
        while (reading.length < READ_AHEAD && pending.length > 0) {
          const cid = pending.pop() as CID
          const key = cid.toString()
          if (seen.has(key)) continue
          seen.add(key)
          const bytes = init.read(cid)
          bytes.catch(() => {})
          reading.push({ cid, bytes })
        }
      }
      fill()
      while (reading.length > 0) {
        const { cid, bytes: next } = reading.shift() as { cid: CID, bytes: Promise<Uint8Array> }
        let bytes: Uint8Array
        try {
          bytes = await next
        } catch {
          await fail(`block ${cid.toString()} is not on this node`)
          return
        }
        // links go on a stack, so the walk goes mostly depth first; the receiver needs no order
        pending.push(...init.links(cid, bytes).reverse())
        fill()
        await lp.write(new Uint8ArrayList(Uint8Array.of(BLOCK), cid.bytes, bytes))
      }
      await lp.write(Uint8Array.of(END))
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: 256 })
}

/**
 * Fetches every block under `root` from `peer`, checking each (`verify`) before it is stored
 * (`put`). Rejects with `ContentNotFoundError` when the peer lacks a block, and `NetworkError`
 * when it refuses or the stream breaks.
 */
export async function fetchBlocks (libp2p: Libp2p, peer: PeerId, root: string, init: {
  /** Stores checked blocks, a run of them at a time. */
  readonly put: (blocks: Array<{ cid: CID, bytes: Uint8Array }>) => Promise<void>
  /** Whether a block's bytes hash to its CID. */
  readonly verify: (cid: CID, bytes: Uint8Array) => boolean
  readonly signal?: AbortSignal
}): Promise<number> {
  const stream = await libp2p.dialProtocol(peer, BLOCKS_PROTOCOL, init.signal !== undefined ? { signal: init.signal } : {})
  const lp = lpStream(stream, { maxDataLength: MAX_BLOCK_FRAME, maxBufferSize: READ_BUFFER_BYTES })
  const writes = new Set<Promise<void>>()
  let failure: Error | undefined
  let count = 0
  let batch: Array<{ cid: CID, bytes: Uint8Array }> = []
  let size = 0
  // runs of blocks are stored while the next are read; two runs at most wait, so memory stays bounded
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return
    const write = init.put(batch).catch((err: unknown) => { failure ??= err instanceof Error ? err : new Error(String(err)) })
    batch = []
    size = 0
    writes.add(write)
    void write.finally(() => writes.delete(write))
    if (writes.size >= 2) {
      // the peer is held back (yamux stops granting window) until a run is stored
      const hold = stream.readStatus === 'readable'
      if (hold) stream.pause()
      await Promise.race(writes)
      if (hold && stream.readStatus === 'paused') stream.resume()
    }
    if (failure !== undefined) throw failure
  }
  try {
    await lp.write(encoder.encode(JSON.stringify({ root })))
    for (;;) {
      const frame = await lp.read(init.signal !== undefined ? { signal: init.signal } : {})
      const tag = frame.get(0)
      if (tag === END) break
      if (tag === FAILED) {
        const reason = new TextDecoder().decode(frame.subarray(1))
        if (/is not on this node/.test(reason)) throw new ContentNotFoundError(root, `peer ${peer.toString()} said: ${reason}`)
        throw new NetworkError(`peer ${peer.toString()} did not send ${root}: ${reason}`)
      }
      if (tag !== BLOCK) throw new NetworkError(`peer ${peer.toString()} sent a frame that is not a block (${BLOCKS_PROTOCOL})`)
      const [cid, bytes] = CID.decodeFirst(frame.subarray(1))
      if (!init.verify(cid, bytes)) throw new NetworkError(`peer ${peer.toString()} sent a block that does not hash to its CID ${cid.toString()}`)
      count++
      batch.push({ cid, bytes })
      size += bytes.length
      if (size >= BATCH_BYTES) await flush()
    }
    await flush()
    await Promise.all(writes)
    if (failure !== undefined) throw failure
    await stream.close()
    return count
  } catch (err) {
    await Promise.all(writes)
    stream.abort(err as Error)
    throw err
  }
}
