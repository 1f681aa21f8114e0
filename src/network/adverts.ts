import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { NodeAdvert } from '../interfaces/network.js'
import { Frames } from './frames.js'

/** The protocol a node answers with its advert. */
export const NODE_PROTOCOL = '/bac/node/1.0.0'

type AdvertFrame = { type: 'advert', advert: NodeAdvert, peers: Array<{ id: string, addrs: string[] }> }

/** Answers `/bac/node/1.0.0` with this node's advert and the peers it knows (`advert` is told who asks). */
export async function serveAdverts (libp2p: Libp2p, advert: (peer: string, addr: Multiaddr | undefined) => AdvertFrame): Promise<void> {
  await libp2p.handle(NODE_PROTOCOL, async (stream, connection) => {
    const frames = new Frames<AdvertFrame>(stream)
    try {
      await frames.send(advert(connection.remotePeer.toString(), connection.remoteAddr))
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: 64 })
}

/** The largest advert taken from a peer: a node's advert is a few hundred bytes. */
const MAX_ADVERT_BYTES = 64 * 1024

/** Asks a peer for its advert; one that is too large or not well formed is refused (`checkAdvert`). */
export async function fetchAdvert (libp2p: Libp2p, peer: PeerId, timeoutMs: number): Promise<AdvertFrame> {
  const signal = AbortSignal.timeout(timeoutMs)
  const stream = await libp2p.dialProtocol(peer, NODE_PROTOCOL, { signal })
  try {
    let frame: AdvertFrame
    try {
      frame = await new Frames<AdvertFrame>(stream, MAX_ADVERT_BYTES).next(signal)
    } catch (err) {
      // a frame over the bound is a malformed advert, said as one; a slow or gone peer is not
      if ((err as Error).name === 'InvalidDataLengthError') throw new Error(`the peer's advert is not one bac takes: it is over ${MAX_ADVERT_BYTES} bytes`)
      throw err
    }
    return checkAdvert(frame)
  } finally {
    void stream.close().catch(() => {})
  }
}

/** A name that reaches logs and tables: a node id, a label, an image. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@=-]{0,127}$/
const KNOWN_EXECUTORS = new Set(['process', 'sandbox', 'vm'])

/** A whole number of at least 0, at most `max`. */
const count = (value: unknown, max: number): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max

/**
 * What a peer said of itself, checked as anything from the network is: every field of the right
 * type and size, names of letters, digits and `._:@=-` only (so none writes a line or a terminal
 * escape into a log or a table), lists bounded. Throws with the reason otherwise.
 */
export function checkAdvert (frame: AdvertFrame): AdvertFrame {
  const fail = (what: string): never => { throw new Error(`the peer's advert is not one bac takes: ${what}`) }
  if (frame.type !== 'advert' || typeof frame.advert !== 'object' || frame.advert === null) fail('not an advert')
  const a = frame.advert as unknown as Record<string, unknown>
  if (typeof a.nodeId !== 'string' || !NAME.test(a.nodeId)) fail('its node id is not a name')
  if (typeof a.peerId !== 'string' || !/^[1-9A-HJ-NP-Za-km-z]{1,128}$/.test(a.peerId)) fail('its peer id is not one')
  if (typeof a.version !== 'string' || !NAME.test(a.version)) fail('its version is not a name')
  const labels = a.labels
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels) || Object.keys(labels).length > 64) fail('its labels are not a small mapping')
  for (const [key, value] of Object.entries(labels as Record<string, unknown>)) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(key) || typeof value !== 'string' || (value !== '' && !NAME.test(value))) fail('a label is not a name')
  }
  if (!Array.isArray(a.executors) || a.executors.length > 8 || !a.executors.every((e) => typeof e === 'string' && KNOWN_EXECUTORS.has(e))) fail('its executors are not bac\'s')
  if (a.images !== undefined && (!Array.isArray(a.images) || a.images.length > 256 || !a.images.every((i) => typeof i === 'string' && NAME.test(i)))) fail('its images are not names')
  if (!count(a.slots, 1_000_000) || !count(a.running, 1_000_000)) fail('its slots or load are not counts')
  if (!Array.isArray(a.addrs) || a.addrs.length > 16 || !a.addrs.every((x) => typeof x === 'string' && x.length <= 512 && /^\/[\x21-\x7e]*$/.test(x))) fail('its addresses are not multiaddrs')
  if (!Array.isArray(frame.peers) || frame.peers.length > 256) fail('its list of peers is not a small list')
  for (const p of frame.peers) {
    const addr = (x: unknown): boolean => typeof x === 'string' && x.length <= 512 && /^\/[\x21-\x7e]*$/.test(x)
    if (typeof p?.id !== 'string' || !/^[1-9A-HJ-NP-Za-km-z]{1,128}$/.test(p.id) || !Array.isArray(p.addrs) || p.addrs.length > 16 || !p.addrs.every(addr)) {
      fail('a peer it lists is not well formed')
    }
  }
  return frame
}

export type { AdvertFrame }
