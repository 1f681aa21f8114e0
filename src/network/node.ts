import { identify } from '@libp2p/identify'
import { KEEP_ALIVE, type Libp2p, type PeerId } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import * as dagPb from '@ipld/dag-pb'
import type { Blockstore } from 'interface-blockstore'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import { NetworkError } from '../interfaces/errors.js'
import type { CacheAnswer, FetchOptions, NodeAdvert, PeerInfo, StepNetwork, StepTask, TaskOptions, TaskResult } from '../interfaces/network.js'
import { serveAdverts } from './adverts.js'
import { startBitswap } from './bitswap.js'
import { fetchBlocks, READ_BUFFER_BYTES, serveBlocks } from './blocks.js'
import { askPeer, serveCache, type CacheLookup } from './cache.js'
import { complete, links, matches, smallDag, whole } from './dag.js'
import { dispatchTask, INLINE_BYTES, serveDispatch, type TaskRunner } from './dispatch.js'
import { loadIdentity } from './identity.js'
import { PeerTable } from './peers.js'
import { Trust, type TrustInit } from './trust.js'
import { logger } from '../common/log.js'

const debug = logger('network')

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

function parseAddr (text: string, what: string): Multiaddr {
  try {
    return multiaddr(text)
  } catch (err) {
    throw new NetworkError(`${what} '${text}' is not a multiaddr (${(err as Error).message}); write it like /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…`)
  }
}

/** The node's libp2p host: TCP, noise, yamux, identify and ping, with its identity key. */
async function createHost (privateKey: Awaited<ReturnType<typeof loadIdentity>>, listen: readonly string[], version: string): Promise<Libp2p> {
  try {
    return await createLibp2p({
      privateKey,
      addresses: { listen: [...listen] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux({ streamOptions: { maxReadBufferLength: READ_BUFFER_BYTES } })],
      services: { identify: identify(), ping: ping() },
      connectionManager: { maxConnections: 512 },
      nodeInfo: { name: 'bac', version }
    })
  } catch (err) {
    throw new NetworkError(`cannot start the libp2p host on ${listen.join(', ')}: ${(err as Error).message}`, { cause: err })
  }
}

/** Joins a peer by the multiaddr it printed; libp2p dials it again whenever the connection is lost. */
async function joinPeer (libp2p: Libp2p, text: string, log: (line: string) => void): Promise<void> {
  const addr = parseAddr(text, 'peer')
  const id = addr.getComponents().find((c) => c.name === 'p2p')?.value
  if (id === undefined) throw new NetworkError(`peer '${text}' has no /p2p/<peer-id> part; copy the whole address the node printed`)
  const peer = peerIdFromString(id)
  await libp2p.peerStore.merge(peer, { multiaddrs: [addr.decapsulateCode(421)], tags: { [KEEP_ALIVE]: { value: 1 } } })
  try {
    await libp2p.dial(addr, { signal: AbortSignal.timeout(10_000) })
  } catch (err) {
    log(`cannot reach peer ${text} yet (${(err as Error).message}); trying again in the background`)
  }
}

/**
 * Starts the node's libp2p host, Helia's bitswap on it, and bac's protocols: adverts (the peer
 * table), dispatch of steps both ways, the shared cache and the block stream, each answering
 * trusted peers only.
 */
export async function startNetwork (init: NetworkInit): Promise<Network> {
  const trust = new Trust({ dataDir: init.dataDir, ...init.trust })
  const listen = (init.listen ?? ['/ip4/127.0.0.1/tcp/0']).map((a) => parseAddr(a, 'listen address').toString())
  const libp2p = await createHost(await loadIdentity(init.dataDir), listen, init.version)
  // the node's own log when it has one (bac serve prints it), else the debug log
  const log = init.log ?? ((line: string) => { debug.debug(line) })
  const refuse = (peer: string, addr: Multiaddr | undefined): string | undefined => trust.check(peer, addr)
  const bitswap = await startBitswap(libp2p, { blockstore: init.blockstore, refuse, blockTimeoutMs: init.blockTimeoutMs ?? 10_000, log })
  const peerId = libp2p.peerId.toString()
  let running = 0
  const addrs = (): string[] => libp2p.getMultiaddrs().map((a) => a.toString())
  const self = (): NodeAdvert => ({
    nodeId: init.nodeId,
    peerId,
    version: init.version,
    labels: { ...init.labels },
    executors: [...init.executors],
    ...(init.images !== undefined ? { images: [...init.images()] } : {}),
    slots: init.slots,
    running,
    addrs: addrs()
  })
  const peers = new PeerTable({ libp2p, trust, self, intervalMs: init.advertIntervalMs ?? 2000, log })

  await serveAdverts(libp2p, (asker, addr) => peers.frameFor(asker, addr))
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
    // the outputs' blocks, while they stay small: the requester then has them with the end
    inline: async (root) => await smallDag(init.blockstore, root, INLINE_BYTES)
  })
  const lookup = init.cacheLookup
  if (lookup !== undefined) await serveCache(libp2p, { refuse: (peer, connection) => refuse(peer, connection.remoteAddr), lookup, log })
  await serveBlocks(libp2p, {
    blockstore: init.blockstore,
    refuse: (peer, connection) => refuse(peer, connection.remoteAddr),
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
  const join = async (text: string): Promise<void> => { await joinPeer(libp2p, text, log) }
  for (const addr of init.peers ?? []) await join(addr)
  const { blockstore } = bitswap

  return {
    peerId,
    addrs,
    blockstore,
    get self () { return self() },
    peers: () => peers.candidates(),
    list: () => peers.list(),
    join,
    running: () => running,
    dispatch: async (target: string, task: StepTask, options: TaskOptions = {}): Promise<TaskResult> => await peers.dispatching(target, async () => {
      debug.debug('dispatch', { peer: target, runId: task.run.id, step: task.step.id, attempt: task.attempt })
      return await dispatchTask(libp2p, peerIdFromString(target), task, { ...options, livenessMs: init.livenessMs ?? 10_000, onBlocks: takeBlocks })
    }),
    askCache: async (key: string, options: { signal?: AbortSignal, makers?: readonly string[] } = {}): Promise<CacheAnswer | undefined> => {
      const asked = peers.candidateIds()
      const accepts = (node: string): boolean => (options.makers === undefined || options.makers.includes(node)) && refuse(node, peers.addrOf(node)) === undefined
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
      if (await complete(init.blockstore, CID.parse(top))) return
      const signal = options.signal !== undefined ? { signal: options.signal } : {}
      if (options.via !== 'bitswap') {
        try {
          // the whole DAG in one stream, as fast as the connection goes
          const put = async (blocks: Parameters<Blockstore['putMany']>[0]): Promise<void> => { for await (const _ of init.blockstore.putMany(blocks)) {} }
          await fetchBlocks(libp2p, peerIdFromString(from), top, { put, verify: matches, ...signal })
          return
        } catch (err) {
          // a peer without the protocol, or without all of the DAG: bitswap, block by block, asks every peer
          if (!['UnsupportedProtocolError', 'ContentNotFoundError'].includes((err as Error).name)) throw err
        }
      }
      // bitswap asks the peer that has the DAG first (Helia reads providers from the options)
      const asking: { signal?: AbortSignal, providers: PeerId[] } = { ...signal, providers: [peerIdFromString(from)] }
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
          next.push(...links(cid, await whole(blockstore.get(cid, asking))))
        }))
        pending = next
      }
    },
    stop: async () => {
      peers.stop()
      await dispatchServer.stop()
      await bitswap.stop()
      await libp2p.stop()
    }
  }
}
