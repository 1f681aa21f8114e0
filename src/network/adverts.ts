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

/** Asks a peer for its advert. */
export async function fetchAdvert (libp2p: Libp2p, peer: PeerId, timeoutMs: number): Promise<AdvertFrame> {
  const signal = AbortSignal.timeout(timeoutMs)
  const stream = await libp2p.dialProtocol(peer, NODE_PROTOCOL, { signal })
  try {
    const frame = await new Frames<AdvertFrame>(stream).next(signal)
    if (frame.type !== 'advert' || typeof frame.advert?.nodeId !== 'string') throw new Error('the peer sent something that is not an advert')
    return frame
  } finally {
    void stream.close().catch(() => {})
  }
}

export type { AdvertFrame }
