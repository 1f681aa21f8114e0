import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { cidAlone } from '../common/cid.js'
import { attestedBy } from '../common/dsse.js'
import type { CacheAnswer } from '../interfaces/network.js'
import type { Envelope } from '../interfaces/provenance.js'
import { openStream } from './dispatch.js'
import { Frames } from './frames.js'

/** The protocol a node asks a trusted peer whether it holds outputs for a memo key with. */
export const CACHE_PROTOCOL = '/bac/cache/1.0.0'

/** A memo key: the hex SHA-256 bac makes. */
const KEY = /^[0-9a-f]{64}$/

/** An answer is small: one signed statement. */
const MAX_ANSWER = 256 * 1024

type Ask = { type: 'ask', key: string }
type Answer = { type: 'none' } | { type: 'held', outputsCid: string, runId: string, attestation: Envelope, node?: string }

/**
 * This node's answer for a key: outputs it holds, with the signed attestation of the node that
 * made them (its own, or, with `node`, the peer's that ran them for it); undefined when it has none.
 */
export type CacheLookup = (key: string) => Promise<{ outputsCid: string, runId: string, attestation: Envelope, node?: string } | undefined>

/** Serves `/bac/cache/1.0.0` to trusted peers: one question, one answer, per stream. */
export async function serveCache (libp2p: Libp2p, init: { refuse: (peer: string, connection: Connection) => string | undefined, lookup: CacheLookup, log?: (line: string) => void }): Promise<void> {
  await libp2p.handle(CACHE_PROTOCOL, async (stream: Stream, connection: Connection) => {
    const frames = new Frames<Ask | Answer>(stream, 4096)
    try {
      if (init.refuse(connection.remotePeer.toString(), connection) !== undefined) {
        stream.abort(new Error('not trusted'))
        return
      }
      const ask = await frames.next(AbortSignal.timeout(5000)) as Ask
      if (ask.type !== 'ask' || typeof ask.key !== 'string' || !KEY.test(ask.key)) {
        stream.abort(new Error('expected a memo key'))
        return
      }
      const held = await init.lookup(ask.key)
      await frames.send(held === undefined ? { type: 'none' } : { type: 'held', ...held })
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: 256 })
}

/**
 * An answer checked before it counts: outputs named by a CID, and an attestation for this key and
 * these outputs signed by the node that made them: the peer that answered, or a node this one
 * trusts that ran them for it.
 */
async function checked (answer: Answer, peer: string, key: string, trusted: (node: string) => boolean): Promise<CacheAnswer | undefined> {
  if (answer.type !== 'held') return undefined
  const maker = answer.node ?? peer
  if (typeof maker !== 'string' || !trusted(maker)) return undefined
  const outputsCid = typeof answer.outputsCid === 'string' ? cidAlone(answer.outputsCid) : undefined
  if (outputsCid === undefined || outputsCid !== answer.outputsCid || typeof answer.runId !== 'string' || answer.runId.length > 64) return undefined
  const attestation = await attestedBy(answer.attestation, { node: maker, outputsCid, key })
  return attestation === undefined ? undefined : { peer, node: maker, outputsCid, runId: answer.runId, attestation }
}

/** Asks one peer; `trusted` says whose outputs count (the node that made them). */
export async function askPeer (libp2p: Libp2p, peer: PeerId, key: string, signal: AbortSignal, trusted: (node: string) => boolean): Promise<CacheAnswer | undefined> {
  let stream: Stream
  try {
    stream = await openStream(libp2p, peer, CACHE_PROTOCOL, signal)
  } catch {
    return undefined
  }
  try {
    const frames = new Frames<Ask | Answer>(stream, MAX_ANSWER)
    await frames.send({ type: 'ask', key })
    const answer = await frames.next(signal) as Answer
    void stream.close().catch(() => {})
    return await checked(answer, peer.toString(), key, trusted)
  } catch {
    stream.abort(new Error('no answer'))
    return undefined
  }
}
