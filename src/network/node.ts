import { withBitswap } from '@helia/bitswap'
import { identify } from '@libp2p/identify'
import { KEEP_ALIVE, type Libp2p, type PeerId } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import * as dagPb from '@ipld/dag-pb'
import { MemoryDatastore } from 'datastore-core'
import { createHeliaLight } from 'helia'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import type { Blockstore } from 'interface-blockstore'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { createHash } from 'node:crypto'
import { ContentNotFoundError, DispatchRefusedError, NetworkError } from '../interfaces/errors.js'
import type { CacheAnswer, FetchOptions, NodeAdvert, PeerInfo, StepNetwork, StepTask, TaskOptions, TaskResult } from '../interfaces/network.js'
import { fetchAdvert, serveAdverts, type AdvertFrame } from './adverts.js'
import { fetchBlocks, READ_BUFFER_BYTES, serveBlocks } from './blocks.js'
import { askPeer, serveCache, type CacheLookup } from './cache.js'
import { dispatchTask, DISPATCH_PROTOCOL, INLINE_BYTES, serveDispatch, type TaskRunner } from './dispatch.js'
import { loadIdentity } from './identity.js'
import { guardProtocols } from './guard.js'
import { Trust, type TrustInit } from './trust.js'
import { logger } from '../common/log.js'

const debug = logger('network')

/** Untrusted peers listed at once at most (each connected); more are not listed. */
const MAX_STRANGERS = 256

/** Bitswap's protocols: only trusted peers may use them with this node. */
const BITSWAP_PROTOCOLS = ['/ipfs/bitswap/1.2.0', '/ipfs/bitswap/1.1.0', '/ipfs/bitswap/1.0.0', '/ipfs/bitswap']

export interface NetworkInit {
  readonly dataDir: string
  readonly nodeId: string
  readonly version: string
  /** Addresses to listen on, as multiaddrs. @default ['/ip4/127.0.0.1/tcp/0'] */
  readonly listen?: readonly string[]
  /** Peers to join at start (multiaddrs ending in `/p2p/<peer-id>`); they are redialled when lost. */
  readonly peers?: readonly string[]
  readonly labels?: Readonly<Record<string, string>>
  readonly executors: readonly string[]
  /** The VM images this node holds now (read for each advert: images built meanwhile count). */
  readonly images?: () => readonly string[]
  /** Steps this node runs for peers at once at most. */
  readonly slots: number
  readonly trust: Omit<TrustInit, 'dataDir'>
  /** The node's block store: bitswap serves it, and fetched blocks go into it. */
  readonly blockstore: Blockstore
  /** Runs a task a trusted peer sent. */
  readonly run: TaskRunner
  /** This node's answer to a trusted peer asking for outputs by memo key (its shared cache). */
  readonly cacheLookup?: CacheLookup
  /** How long a run waits for its peers' cache answers. @default 2000 */
  readonly cacheTimeoutMs?: number
  /** How often peers are asked for their advert. @default 2000 */
  readonly advertIntervalMs?: number
  /** Give up on a peer that sends nothing for this long while it runs a step. @default 10000 */
  readonly livenessMs?: number
  /** How long a block missing here is looked for on peers. @default 10000 */
  readonly blockTimeoutMs?: number
  readonly log?: (line: string) => void
}

/** A node on the network: its libp2p host with Helia (bitswap) on it, its peers, dispatch both ways. */
export interface Network extends StepNetwork {
  readonly peerId: string
  /** Multiaddrs peers can dial, each ending in this node's `/p2p/<peer-id>`. */
  addrs: () => string[]
  /** The node's blocks, with those it lacks looked for on its peers (bitswap). */
  readonly blockstore: Blockstore
  /** Every peer this node knows, trusted or not. */
  list: () => PeerInfo[]
  /** Joins a peer by multiaddr. */
  join: (addr: string) => Promise<void>
  /** Tasks run here for peers now. */
  running: () => number
  stop: () => Promise<void>
}

interface PeerState {
  advert: NodeAdvert
  lastSeen: number
  dispatched: number
  connected: boolean
  trusted: boolean
  addr?: Multiaddr
}

function parseAddr (text: string, what: string): Multiaddr {
  try {
    return multiaddr(text)
  } catch (err) {
    throw new NetworkError(`${what} '${text}' is not a multiaddr (${(err as Error).message}); write it like /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…`)
  }
}

/** A block's bytes, whole, however the blockstore hands them out. */
async function whole (pieces: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const list: Uint8Array[] = []
  for await (const piece of pieces) list.push(piece)
  return list.length === 1 ? list[0] as Uint8Array : Buffer.concat(list)
}

/** The CIDs a block links to (dag-pb); raw blocks link to nothing. */
function links (cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code !== dagPb.code) return []
  return dagPb.decode(bytes).Links.map((l) => l.Hash)
}

/** Whether a block's bytes hash to its CID (sha2-256 only: the hash every bac and Kubo default uses). */
function matches (cid: CID, bytes: Uint8Array): boolean {
  return cid.multihash.code === sha256.code && Buffer.from(cid.multihash.digest).equals(createHash('sha256').update(bytes).digest())
}

/** Starts the node's libp2p host with Helia on it, and serves bac's protocols. */
export async function startNetwork (init: NetworkInit): Promise<Network> {
  const privateKey = await loadIdentity(init.dataDir)
  const trust = new Trust({ dataDir: init.dataDir, ...init.trust })
  const listen = (init.listen ?? ['/ip4/127.0.0.1/tcp/0']).map((a) => parseAddr(a, 'listen address').toString())
  const light = createHeliaLight({ blockstore: init.blockstore, datastore: new MemoryDatastore() })
  // the libp2p host is set on it below, before it starts (as Helia's own libp2p mixin does)
  const helia = withBitswap(light as unknown as HeliaWithLibp2p, { maxSizeReplaceHasWithBlock: 1024 * 1024, sendWantlistDebounce: 0 })
  let libp2p: Libp2p
  try {
    libp2p = await createLibp2p({
      privateKey,
      addresses: { listen },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux({ streamOptions: { maxReadBufferLength: READ_BUFFER_BYTES } })],
      services: { identify: identify(), ping: ping() },
      connectionManager: { maxConnections: 512 },
      nodeInfo: { name: 'bac', version: init.version }
    })
  } catch (err) {
    throw new NetworkError(`cannot start the libp2p host on ${listen.join(', ')}: ${(err as Error).message}`, { cause: err })
  }
  // Helia uses this host for bitswap, as its libp2p mixin would; bitswap has no notion of trust,
  // so it sees the host through a guard: it answers and asks trusted peers only
  const bitswapHost = guardProtocols(libp2p, {
    protocols: BITSWAP_PROTOCOLS,
    refuse: (peer, addr) => trust.check(peer, addr),
    ...(init.log !== undefined ? { log: init.log } : {})
  })
  Object.defineProperty(helia, 'libp2p', { value: bitswapHost, enumerable: true })
  await helia.start()

  const peerId = libp2p.peerId.toString()
  const peers = new Map<string, PeerState>()
  /** Peers whose advert was refused, so that each is said once. */
  const malformed = new Set<string>()
  let running = 0
  // the node's own log when it has one (bac serve prints it), else the debug log
  const log = init.log ?? ((line: string) => { debug.debug(line) })
  const interval = init.advertIntervalMs ?? 2000
  const addrs = (): string[] => libp2p.getMultiaddrs().map((a) => a.toString())
  const self = (): NodeAdvert => ({
    nodeId: init.nodeId, peerId, version: init.version, labels: { ...init.labels }, executors: [...init.executors], ...(init.images !== undefined ? { images: [...init.images()] } : {}), slots: init.slots, running, addrs: addrs()
  })
  // the peers it knows are told only to a peer it trusts: a stranger learns nothing of the network
  const advertFrame = (asker: string, addr: Multiaddr | undefined): AdvertFrame => ({
    type: 'advert',
    advert: self(),
    peers: trust.check(asker, addr) !== undefined ? [] : [...peers].filter(([, p]) => p.trusted && p.connected).map(([id, p]) => ({ id, addrs: [...p.advert.addrs] }))
  })

  const refresh = async (peer: PeerId): Promise<void> => {
    const id = peer.toString()
    const connection = libp2p.getConnections(peer)[0]
    if (connection === undefined) return
    let frame: AdvertFrame
    try {
      frame = await fetchAdvert(libp2p, peer, Math.max(interval, 2000))
    } catch (err) {
      // a malformed advert is said once per peer; a peer that is merely slow is not
      if ((err as Error).message.startsWith('the peer\'s advert') && !malformed.has(id)) {
        if (malformed.size >= MAX_STRANGERS) malformed.clear()
        malformed.add(id)
        log(`peer ${id}: ${(err as Error).message}; it is not listed`)
      }
      return
    }
    if (frame.advert.peerId !== id) return
    const known = peers.get(id)
    const trusted = trust.check(id, connection.remoteAddr) === undefined
    // strangers are kept while they are connected, and only so many: they cost memory, not work
    if (known === undefined && !trusted && [...peers.values()].filter((p) => !p.trusted).length >= MAX_STRANGERS) return
    // updated in place: a dispatch under way holds this object and counts itself off it at its end
    if (known === undefined) peers.set(id, { advert: frame.advert, lastSeen: Date.now(), dispatched: 0, connected: true, trusted, addr: connection.remoteAddr })
    else Object.assign(known, { advert: frame.advert, lastSeen: Date.now(), connected: true, trusted, addr: connection.remoteAddr })
    if (known === undefined) log(`peer ${frame.advert.nodeId} (${id}) joined${trusted ? '' : ', not trusted'}`)
    // a trusted peer's peers are joined too, so a network needs one known address to form
    if (!trusted) return
    for (const other of frame.peers) {
      if (other.id === peerId || peers.get(other.id)?.connected === true || libp2p.getConnections(peerIdFromString(other.id)).length > 0) continue
      const addr = other.addrs[0]
      if (addr !== undefined) void libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(5000) }).catch(() => {})
    }
  }

  libp2p.addEventListener('peer:identify', (event) => {
    if (event.detail.protocols.includes(DISPATCH_PROTOCOL)) void refresh(event.detail.peerId)
  })
  libp2p.addEventListener('peer:disconnect', (event) => {
    const id = event.detail.toString()
    const state = peers.get(id)
    if (state !== undefined) {
      state.connected = false
      log(`peer ${state.advert.nodeId} (${id}) left`)
      // an untrusted peer that left is forgotten (a trusted one is dialled again, and listed as gone)
      if (!state.trusted && state.dispatched === 0) peers.delete(id)
    }
  })
  const timer = setInterval(() => {
    for (const connection of libp2p.getConnections()) void refresh(connection.remotePeer)
  }, interval)
  timer.unref()

  await serveAdverts(libp2p, advertFrame)
  const dispatchServer = serveDispatch(libp2p, {
    nodeId: init.nodeId,
    refuse: (peer, connection, task) => {
      const why = trust.check(peer, connection.remoteAddr)
      if (why !== undefined) return `node ${init.nodeId} (${peerId}) does not trust ${peer}: ${why}`
      if (!init.executors.includes(task.step.executor)) return `node ${init.nodeId} has no ${task.step.executor} executor (it has ${init.executors.join(', ')})`
      return undefined
    },
    run: async (task, options) => {
      running++
      try {
        return await init.run(task, options)
      } finally {
        running--
      }
    },
    log,
    inline: async (root) => {
      // the outputs' blocks, while they stay small: the requester then has them with the end
      const found: Array<{ cid: string, data: Uint8Array }> = []
      let bytes = 0
      const pending = [CID.parse(root)]
      while (pending.length > 0) {
        const cid = pending.pop() as CID
        if (cid.multihash.code !== sha256.code) return undefined
        const data = await whole(init.blockstore.get(cid))
        bytes += data.length
        if (bytes > INLINE_BYTES) return undefined
        found.push({ cid: cid.toString(), data })
        pending.push(...links(cid, data))
      }
      return found
    }
  })

  const lookup = init.cacheLookup
  if (lookup !== undefined) await serveCache(libp2p, { refuse: (peer, connection) => trust.check(peer, connection.remoteAddr), lookup, log })

  await serveBlocks(libp2p, {
    blockstore: init.blockstore,
    refuse: (peer, connection) => trust.check(peer, connection.remoteAddr),
    links,
    read: async (cid) => await whole(init.blockstore.get(cid)),
    log
  })

  /** Blocks a peer sent inline: each is stored only if its bytes hash to its CID. */
  const takeBlocks = async (blocks: Array<{ cid: string, data: Uint8Array }>): Promise<void> => {
    for (const block of blocks) {
      const cid = CID.parse(block.cid)
      if (!matches(cid, block.data)) throw new Error(`a block sent as ${block.cid} does not hash to it`)
      await init.blockstore.put(cid, block.data)
    }
  }

  const join = async (text: string): Promise<void> => {
    const addr = parseAddr(text, 'peer')
    const id = addr.getComponents().find((c) => c.name === 'p2p')?.value
    if (id === undefined) throw new NetworkError(`peer '${text}' has no /p2p/<peer-id> part; copy the whole address the node printed`)
    const peer = peerIdFromString(id)
    // libp2p dials a keep-alive peer again when the connection is lost
    await libp2p.peerStore.merge(peer, { multiaddrs: [addr.decapsulateCode(421)], tags: { [KEEP_ALIVE]: { value: 1 } } })
    try {
      await libp2p.dial(addr, { signal: AbortSignal.timeout(10_000) })
    } catch (err) {
      log(`cannot reach peer ${text} yet (${(err as Error).message}); trying again in the background`)
    }
  }
  for (const addr of init.peers ?? []) await join(addr)

  const blockTimeout = init.blockTimeoutMs ?? 10_000
  const networked = helia.blockstore as unknown as Blockstore
  // a block missing here is looked for on the peers for a while, then reported missing
  const blockstore: Blockstore = Object.create(networked, {
    get: {
      value: async function * (cid: CID, options: { signal?: AbortSignal } = {}) {
        if (await init.blockstore.has(cid)) {
          yield * init.blockstore.get(cid, options)
          return
        }
        const timeout = AbortSignal.timeout(blockTimeout)
        const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
        try {
          yield * networked.get(cid, { ...options, signal })
        } catch (err) {
          if (timeout.aborted && options.signal?.aborted !== true) throw new ContentNotFoundError(cid.toString(), `it is not in the local store, and no peer sent it within ${blockTimeout} ms`)
          throw err
        }
      }
    }
  }) as Blockstore

  /** Whether every block under `root` is here already (then nothing is asked of a peer). */
  const complete = async (root: CID): Promise<boolean> => {
    const pending = [root]
    while (pending.length > 0) {
      const cid = pending.pop() as CID
      if (!await init.blockstore.has(cid)) return false
      if (cid.code === dagPb.code) pending.push(...links(cid, await whole(init.blockstore.get(cid))))
    }
    return true
  }

  const candidate = (p: PeerState): boolean => p.connected && p.trusted && Date.now() - p.lastSeen < interval * 3 + 2000
  const info = (p: PeerState): PeerInfo => ({ advert: p.advert, trusted: p.trusted, connected: p.connected, lastSeen: p.lastSeen, dispatched: p.dispatched })

  return {
    peerId,
    addrs,
    blockstore,
    get self () { return self() },
    peers: () => [...peers.values()].filter(candidate).map(info),
    list: () => [...peers.values()].map(info),
    join,
    running: () => running,
    dispatch: async (target: string, task: StepTask, options: TaskOptions = {}): Promise<TaskResult> => {
      const state = peers.get(target)
      if (state === undefined || !state.trusted) throw new DispatchRefusedError(target, 'this node does not know it as a trusted peer')
      state.dispatched++
      debug.debug('dispatch', { peer: target, runId: task.run.id, step: task.step.id, attempt: task.attempt })
      try {
        return await dispatchTask(libp2p, peerIdFromString(target), task, { ...options, livenessMs: init.livenessMs ?? 10_000, onBlocks: takeBlocks })
      } finally {
        state.dispatched--
      }
    },
    askCache: async (key: string, options: { signal?: AbortSignal, makers?: readonly string[] } = {}): Promise<CacheAnswer | undefined> => {
      const asked = [...peers.entries()].filter(([, p]) => candidate(p)).map(([id]) => id)
      const accepts = (node: string): boolean => (options.makers === undefined || options.makers.includes(node)) && trust.check(node, peers.get(node)?.addr) === undefined
      debug.debug('cache ask', { key, peers: asked.length })
      if (asked.length === 0) return undefined
      const timeout = AbortSignal.timeout(init.cacheTimeoutMs ?? 2000)
      const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
      // every trusted peer at once; the first checked answer is taken
      return await new Promise<CacheAnswer | undefined>((resolve) => {
        let left = asked.length
        for (const id of asked) {
          void askPeer(libp2p, peerIdFromString(id), key, signal, accepts).then((answer) => {
            left--
            if (answer !== undefined) resolve(answer)
            else if (left === 0) resolve(undefined)
          })
        }
      })
    },
    fetch: async (root: string, from: string, options: FetchOptions = {}): Promise<void> => {
      const top = root.split('/')[0] ?? root
      if (await complete(CID.parse(top))) return
      if (options.via !== 'bitswap') {
        try {
          // the whole DAG in one stream, as fast as the connection goes
          await fetchBlocks(libp2p, peerIdFromString(from), top, { put: async (blocks) => { for await (const _ of init.blockstore.putMany(blocks)) {} }, verify: matches, ...(options.signal !== undefined ? { signal: options.signal } : {}) })
          return
        } catch (err) {
          // a peer without the protocol, or without all of the DAG: bitswap, block by block, asks every peer
          if (!['UnsupportedProtocolError', 'ContentNotFoundError'].includes((err as Error).name)) throw err
        }
      }
      const providers = [peerIdFromString(from)]
      const seen = new Set<string>()
      let pending = [CID.parse(top)]
      // level by level, every block of a level asked for at once: bitswap batches the wants
      while (pending.length > 0) {
        const next: CID[] = []
        await Promise.all(pending.map(async (cid) => {
          const key = cid.toString()
          if (seen.has(key)) return
          seen.add(key)
          if (cid.code !== dagPb.code && await init.blockstore.has(cid)) return
          next.push(...links(cid, await whole(blockstore.get(cid, { ...(options.signal !== undefined ? { signal: options.signal } : {}), providers } as { signal?: AbortSignal }))))
        }))
        pending = next
      }
    },
    stop: async () => {
      clearInterval(timer)
      await dispatchServer.stop()
      await helia.stop()
      await libp2p.stop()
    }
  }
}
