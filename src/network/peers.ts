import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { NodeAdvert, PeerInfo } from '../interfaces/network.js'
import { DispatchRefusedError } from '../interfaces/errors.js'
import { fetchAdvert, type AdvertFrame } from './adverts.js'
import { DISPATCH_PROTOCOL } from './dispatch.js'
import type { Trust } from './trust.js'

/** Untrusted peers listed at once at most (each connected); more are not listed. */
const MAX_STRANGERS = 256

interface PeerState {
  advert: NodeAdvert
  lastSeen: number
  dispatched: number
  connected: boolean
  trusted: boolean
  addr?: Multiaddr
}

export interface PeerTableInit {
  readonly libp2p: Libp2p
  readonly trust: Trust
  /** This node's advert, as it is now. */
  readonly self: () => NodeAdvert
  /** How often peers are asked for their advert. */
  readonly intervalMs: number
  readonly log: (line: string) => void
}

/**
 * The peers a node knows, from their adverts: asked for when a peer is identified and every
 * `intervalMs`, each kept with whether it is trusted and connected, and how many of this node's
 * tasks it runs now. A trusted peer's peers are joined too, so a network needs one known address
 * to form; strangers are kept while connected, and only so many.
 */
export class PeerTable {
  private readonly peers = new Map<string, PeerState>()
  /** Peers whose advert was refused, so that each is said once. */
  private readonly malformed = new Set<string>()
  private readonly timer: NodeJS.Timeout

  constructor (private readonly init: PeerTableInit) {
    const { libp2p } = init
    libp2p.addEventListener('peer:identify', (event) => {
      if (event.detail.protocols.includes(DISPATCH_PROTOCOL)) void this.refresh(event.detail.peerId)
    })
    libp2p.addEventListener('peer:disconnect', (event) => { this.left(event.detail.toString()) })
    this.timer = setInterval(() => {
      for (const connection of libp2p.getConnections()) void this.refresh(connection.remotePeer)
    }, init.intervalMs)
    this.timer.unref()
  }

  /** What this node tells a peer that asks: its advert, and its trusted peers only to a peer it trusts (a stranger learns nothing of the network). */
  frameFor (asker: string, addr: Multiaddr | undefined): AdvertFrame {
    const trusted = this.init.trust.check(asker, addr) === undefined
    return {
      type: 'advert',
      advert: this.init.self(),
      peers: trusted ? [...this.peers].filter(([, p]) => p.trusted && p.connected).map(([id, p]) => ({ id, addrs: [...p.advert.addrs] })) : []
    }
  }

  /** Every peer this node knows, trusted or not. */
  list (): PeerInfo[] {
    return [...this.peers.values()].map(info)
  }

  /** Trusted, connected peers with a fresh advert: those a step may go to. */
  candidates (): PeerInfo[] {
    return [...this.peers.values()].filter((p) => this.candidate(p)).map(info)
  }

  /** The ids of the candidates. */
  candidateIds (): string[] {
    return [...this.peers.entries()].filter(([, p]) => this.candidate(p)).map(([id]) => id)
  }

  /** Where a peer was last seen connected from. */
  addrOf (id: string): Multiaddr | undefined {
    return this.peers.get(id)?.addr
  }

  /** Runs `fn` as a task this node sent to a trusted peer, counted on it while it runs. */
  async dispatching<T> (id: string, fn: () => Promise<T>): Promise<T> {
    const state = this.peers.get(id)
    if (state === undefined || !state.trusted) throw new DispatchRefusedError(id, 'this node does not know it as a trusted peer')
    state.dispatched++
    try {
      return await fn()
    } finally {
      state.dispatched--
    }
  }

  stop (): void {
    clearInterval(this.timer)
  }

  private candidate (p: PeerState): boolean {
    return p.connected && p.trusted && Date.now() - p.lastSeen < this.init.intervalMs * 3 + 2000
  }

  private left (id: string): void {
    const state = this.peers.get(id)
    if (state === undefined) return
    state.connected = false
    this.init.log(`peer ${state.advert.nodeId} (${id}) left`)
    // an untrusted peer that left is forgotten (a trusted one is dialled again, and listed as gone)
    if (!state.trusted && state.dispatched === 0) this.peers.delete(id)
  }

  private async refresh (peer: PeerId): Promise<void> {
    const { libp2p, trust, log } = this.init
    const id = peer.toString()
    const connection = libp2p.getConnections(peer)[0]
    if (connection === undefined) return
    let frame: AdvertFrame
    try {
      frame = await fetchAdvert(libp2p, peer, Math.max(this.init.intervalMs, 2000))
    } catch (err) {
      // a malformed advert is said once per peer; a peer that is merely slow is not
      if ((err as Error).message.startsWith('the peer\'s advert') && !this.malformed.has(id)) {
        if (this.malformed.size >= MAX_STRANGERS) this.malformed.clear()
        this.malformed.add(id)
        log(`peer ${id}: ${(err as Error).message}; it is not listed`)
      }
      return
    }
    if (frame.advert.peerId !== id) return
    const known = this.peers.get(id)
    const trusted = trust.check(id, connection.remoteAddr) === undefined
    // strangers are kept while they are connected, and only so many: they cost memory, not work
    if (known === undefined && !trusted && [...this.peers.values()].filter((p) => !p.trusted).length >= MAX_STRANGERS) return
    // updated in place: a dispatch under way holds this object and counts itself off it at its end
    const seen = { advert: frame.advert, lastSeen: Date.now(), connected: true, trusted, addr: connection.remoteAddr }
    if (known === undefined) this.peers.set(id, { ...seen, dispatched: 0 })
    else Object.assign(known, seen)
    if (known === undefined) log(`peer ${frame.advert.nodeId} (${id}) joined${trusted ? '' : ', not trusted'}`)
    if (!trusted) return
    for (const other of frame.peers) {
      if (other.id === libp2p.peerId.toString() || this.peers.get(other.id)?.connected === true || libp2p.getConnections(peerIdFromString(other.id)).length > 0) continue
      const addr = other.addrs[0]
      if (addr !== undefined) void libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(5000) }).catch(() => {})
    }
  }
}

function info (p: PeerState): PeerInfo {
  return { advert: p.advert, trusted: p.trusted, connected: p.connected, lastSeen: p.lastSeen, dispatched: p.dispatched }
}
