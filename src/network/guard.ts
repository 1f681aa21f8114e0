import type { Connection, Libp2p, PeerId, Stream, StreamHandler } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Why a peer may not use a protocol, or undefined when it may. */
export type Refuse = (peer: string, addr: Multiaddr | undefined) => string | undefined

export interface GuardInit {
  /** The protocols guarded (e.g. bitswap's): handled and dialled only with peers `refuse` lets through. */
  readonly protocols: readonly string[]
  readonly refuse: Refuse
  /** Told once per peer that was turned away. */
  readonly log?: (line: string) => void
}

/**
 * The libp2p host as a protocol that does not check trust itself (Helia's bitswap) should see
 * it: streams of the guarded protocols from a peer `refuse` names are aborted before the
 * protocol reads them, and such a peer is never dialled for them. So bitswap answers (and asks)
 * only trusted peers: an untrusted node that connects cannot fetch a block by CID.
 */
export function guardProtocols (libp2p: Libp2p, init: GuardInit): Libp2p {
  const guarded = new Set(init.protocols)
  const told = new Set<string>()
  const why = (peer: PeerId, addr: Multiaddr | undefined, protocol: string): string | undefined => {
    const id = peer.toString()
    const reason = init.refuse(id, addr)
    if (reason !== undefined && !told.has(id)) {
      if (told.size > 10_000) told.clear()
      told.add(id)
      init.log?.(`refused ${protocol} with ${id}: ${reason}`)
    }
    return reason
  }
  const handle = async (protocols: string | string[], handler: StreamHandler, options?: Parameters<Libp2p['handle']>[2]): Promise<void> => {
    const list = Array.isArray(protocols) ? protocols : [protocols]
    const checked: StreamHandler = (stream: Stream, connection: Connection) => {
      const reason = guarded.has(stream.protocol ?? '') || list.some((p) => guarded.has(p)) ? why(connection.remotePeer, connection.remoteAddr, stream.protocol ?? list[0] ?? '') : undefined
      if (reason !== undefined) {
        stream.abort(new Error(reason))
        return
      }
      return handler(stream, connection)
    }
    await libp2p.handle(protocols, checked, options)
  }
  const dialProtocol = async (peer: Parameters<Libp2p['dialProtocol']>[0], protocols: string | string[], options?: Parameters<Libp2p['dialProtocol']>[2]): Promise<Stream> => {
    const list = Array.isArray(protocols) ? protocols : [protocols]
    const id = typeof (peer as PeerId).toMultihash === 'function' ? peer as PeerId : undefined
    if (id !== undefined && list.some((p) => guarded.has(p))) {
      const reason = why(id, libp2p.getConnections(id)[0]?.remoteAddr, list[0] ?? '')
      if (reason !== undefined) throw new Error(reason)
    }
    return await libp2p.dialProtocol(peer, protocols, options)
  }
  return new Proxy(libp2p, {
    get (target, property) {
      if (property === 'handle') return handle
      if (property === 'dialProtocol') return dialProtocol
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    }
  })
}
