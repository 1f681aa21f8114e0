import { randomBytes } from 'node:crypto'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import { readRegularFileSync } from '../common/files.js'
import { loadNodeKey } from '../common/node-key.js'
import type { ContentStore, PathScope } from '../interfaces/content-store.js'
import { UserError } from '../interfaces/errors.js'
import type { Engine, RunOptions, RunOutcome } from '../interfaces/engine.js'
import type { Pipeline } from '../interfaces/pipeline.js'
import type { Signer } from '../interfaces/provenance.js'
import type { RunStore } from '../interfaces/run-store.js'
import { createProcessExecutor, createSandboxExecutor, createVmExecutor } from '../executors/index.js'
import type { Network } from '../network/index.js'
import { cacheAnswerer, createEngine, Semaphore, TaskHost, type EngineComponents } from '../scheduler/index.js'
import { parseDuration } from '../pipeline/index.js'
import { createFsStore, createUnixfsStore, openRunStore, PackBlockstore } from '../storage/index.js'
import { VERSION } from '../version.js'
import { Parts } from './parts.js'
import { createTemplateEngine } from '../template/index.js'

/** How a node joins the network (`bac serve`); a node without it runs alone. */
export interface NodeNetworkOptions {
  /** Multiaddrs to listen on. @default ['/ip4/127.0.0.1/tcp/0'] */
  readonly listen?: readonly string[]
  /** Peers to join (multiaddrs with `/p2p/<peer-id>`). */
  readonly peers?: readonly string[]
  readonly labels?: Readonly<Record<string, string>>
  /** Peer ids to trust, besides `<dataDir>/trusted-peers`. */
  readonly trust?: readonly string[]
  /** Trust peers on loopback (devstack). */
  readonly dev?: boolean
  /** Steps this node runs for peers at once. @default the number of cores */
  readonly slots?: number
  readonly advertIntervalMs?: number
  readonly livenessMs?: number
  readonly log?: (line: string) => void
}

export interface EmbeddedNodeInit {
  /** The node's data dir (created on first use). */
  dataDir: string
  /** Join the network: steps may run on peers, and peers' steps run here. */
  network?: NodeNetworkOptions
  /** The VM images (and saved machine states). @default $BAC_IMAGES, else `<dataDir>/images` */
  imagesDir?: string
  /**
   * A Kubo daemon's RPC API (multiaddr or URL) to keep content in, instead of the embedded store.
   * @default $BAC_IPFS_API, else `ipfsApi` in `<dataDir>/config.json`, else the embedded store
   */
  ipfsApi?: string
  /**
   * Real folders every path a run reads as content must lie in (a serving node's allowed
   * folders). @default any path
   */
  within?: PathScope
  /**
   * Keep a signed provenance record of every run that ends with a result (what `bac verify`
   * checks). Only a program that wants no records turns it off; the CLI never does. @default true
   */
  records?: boolean
}

/**
 * The Kubo daemon a node uses: the given address, else $BAC_IPFS_API, else `ipfsApi` in the data
 * dir's config.json; and how long a CID may take to be found (`$BAC_IPFS_TIMEOUT`, else
 * `ipfsTimeout` there: a duration such as `30s` or `2m`).
 */
export function ipfsApiOf (dataDir: string, given?: string): { api: string, timeoutMs?: number } | undefined {
  const file = path.join(dataDir, 'config.json')
  let config: { ipfsApi?: unknown, ipfsTimeout?: unknown } = {}
  try {
    config = (JSON.parse(readRegularFileSync(file, 1024 * 1024, 'a node\'s config').toString('utf8')) ?? {}) as typeof config
  } catch (err) {
    if (err instanceof UserError) throw err
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`${file} is not valid JSON (${(err as Error).message}); fix it or remove it`)
  }
  const chosen = given ?? process.env.BAC_IPFS_API
  const api = chosen !== undefined && chosen.trim() !== '' ? chosen : config.ipfsApi
  if (api === undefined) return undefined
  if (typeof api !== 'string' || api.trim() === '') throw new UserError(`${file}: ipfsApi must be the daemon's RPC address, e.g. "/ip4/127.0.0.1/tcp/5001"`)
  const timeout = process.env.BAC_IPFS_TIMEOUT ?? config.ipfsTimeout
  if (timeout === undefined) return { api }
  const timeoutMs = typeof timeout === 'string' ? parseDuration(timeout) : undefined
  if (timeoutMs === undefined || timeoutMs <= 0) {
    throw new UserError(`${process.env.BAC_IPFS_TIMEOUT !== undefined ? '$BAC_IPFS_TIMEOUT' : `${file}: ipfsTimeout`} must be a duration such as 30s or 2m, got ${JSON.stringify(timeout)}`)
  }
  return { api, timeoutMs }
}

/** Where a node keeps its VM images: the given folder, else $BAC_IMAGES, else the data dir's. */
export function imagesDirOf (dataDir: string, given?: string): string {
  return path.resolve(given ?? process.env.BAC_IMAGES ?? path.join(dataDir, 'images'))
}

/** The executors of a node: `vm` only where QEMU is installed. */
function nodeExecutors (dataDir: string, imagesDir?: string): EngineComponents['executors'] & { vm?: ReturnType<typeof createVmExecutor> } {
  const vm = createVmExecutor({ imagesDir: imagesDirOf(dataDir, imagesDir) })
  // the sandbox's /etc is made in the data dir, which only this user may write
  return { process: createProcessExecutor(), sandbox: createSandboxExecutor({ etcRoot: path.join(dataDir, 'sandbox') }), ...(vm.available ? { vm } : {}) }
}

/** A node that lives as long as one command: the content store, run store, executors, engine. */
export interface EmbeddedNode {
  readonly id: string
  readonly dataDir: string
  readonly store: ContentStore
  readonly runs: RunStore
  /** Runs of a process that died, marked interrupted when the node opened. */
  readonly recovered: readonly string[]
  readonly engine: Engine
  /** The node on the network, when it joined one. */
  readonly network?: Network
  run: (pipeline: Pipeline, options?: RunOptions) => Promise<RunOutcome>
  close: () => Promise<void>
}

/** This node's id, made once and kept in the data dir. */
function nodeId (dataDir: string): string {
  const file = path.join(dataDir, 'node-id')
  try {
    return readRegularFileSync(file, 1024, 'a node id').toString('utf8').trim()
  } catch {
    const id = `node-${randomBytes(6).toString('hex')}`
    writeFileSync(`${file}.tmp`, `${id}\n`)
    renameSync(`${file}.tmp`, file)
    return id
  }
}

/** Opens an embedded node on a data dir. */
export async function openEmbeddedNode (init: EmbeddedNodeInit): Promise<EmbeddedNode> {
  const dataDir = path.resolve(init.dataDir)
  // content, runs, logs and the API token: the node's user's alone
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const id = nodeId(dataDir)
  // the identity key signs the node's records; made here, before a network reads it, on first use
  const signer = loadNodeKey(dataDir)
  const ipfsApi = ipfsApiOf(dataDir, init.ipfsApi)
  // loaded only by a node that uses a Kubo daemon
  const kubo = ipfsApi === undefined ? undefined : await import('../storage/kubo-store.js')
  const parts = new Parts()
  if (init.network === undefined) {
    const store = kubo !== undefined && ipfsApi !== undefined ? kubo.createKuboStore(ipfsApi) : createFsStore({ dataDir })
    return await parts.starting(async () => await assemble(parts, { dataDir, id, signer, store, executors: nodeExecutors(dataDir, init.imagesDir), within: init.within, records: init.records }))
  }
  const options = init.network
  const blockstore = new PackBlockstore(path.join(dataDir, 'blocks'))
  // with a Kubo daemon, the node's own blocks (which its peers fetch) sit over the daemon's
  const daemon = kubo !== undefined && ipfsApi !== undefined ? kubo.kuboBlockstore(ipfsApi) : undefined
  await blockstore.open()
  parts.add('block store', async () => { await blockstore.close() })
  const executors = nodeExecutors(dataDir, init.imagesDir)
  let host: TaskHost | undefined
  let answer: ReturnType<typeof cacheAnswerer> | undefined
  const slots = new Semaphore(options.slots ?? availableParallelism())
  const network: Network = await parts.starting(async () => {
    // loaded only by a node that joins a network: libp2p and Helia are large
    const { startNetwork } = await import('../network/index.js')
    return await startNetwork({
      dataDir,
      nodeId: id,
      version: VERSION,
      ...(options.listen !== undefined ? { listen: options.listen } : {}),
      ...(options.peers !== undefined ? { peers: options.peers } : {}),
      ...(options.labels !== undefined ? { labels: options.labels } : {}),
      executors: Object.keys(executors),
      // the VM images it holds, so that peers send a vm step only where its image is
      ...(executors.vm !== undefined ? { images: () => executors.vm?.images.heldSync() ?? [] } : {}),
      slots: options.slots ?? availableParallelism(),
      trust: { ...(options.trust !== undefined ? { peers: options.trust } : {}), loopback: options.dev === true },
      blockstore: daemon !== undefined && kubo !== undefined ? new kubo.TieredBlockstore(blockstore, daemon) : blockstore,
      run: async (task, runOptions) => {
        if (host === undefined) throw new Error('the node is still starting')
        const running = host
        return await slots.use(async () => await running.run(task, runOptions))
      },
      // what this node ran, its trusted peers may reuse rather than run again
      cacheLookup: async (key) => await answer?.(key),
      ...(options.advertIntervalMs !== undefined ? { advertIntervalMs: options.advertIntervalMs } : {}),
      ...(options.livenessMs !== undefined ? { livenessMs: options.livenessMs } : {}),
      ...(options.log !== undefined ? { log: options.log } : {})
    })
  })
  parts.add('network', async () => { await network.stop() })
  const store = kubo !== undefined && daemon !== undefined && ipfsApi !== undefined
    ? kubo.createKuboStore({ ...ipfsApi, kubo: daemon, blockstore: network.blockstore })
    : createUnixfsStore({ blockstore: network.blockstore })
  const node = await parts.starting(async () => await assemble(parts, { dataDir, id, signer, store, network, executors, labels: options.labels, within: init.within, records: init.records }))
  const tasks = new TaskHost({ store, runs: node.runs, executors, templates: createTemplateEngine(), network, signer }, dataDir)
  host = tasks
  // the tasks peers sent stop first: their folders go before the store and network they use
  parts.add('task host', async () => { await tasks.close() })
  answer = cacheAnswerer({ runs: node.runs, store, signer })
  return node
}

/** What a node is made of, besides the parts it opens itself. */
interface Assembly {
  readonly dataDir: string
  readonly id: string
  readonly signer: Signer
  readonly store: ContentStore
  readonly network?: Network | undefined
  readonly executors: EngineComponents['executors']
  readonly labels?: Readonly<Record<string, string>> | undefined
  readonly within?: PathScope | undefined
  readonly records?: boolean | undefined
}

/** The node's parts on an open content store. */
async function assemble (parts: Parts, { dataDir, id, signer, store, network, executors, labels, within, records }: Assembly): Promise<EmbeddedNode> {
  // a Kubo store checks its daemon as it starts, and sends what it still holds as it stops
  await store.start()
  parts.add('content store', async () => { await store.stop() })
  const runs = openRunStore({ file: path.join(dataDir, 'runs.db') })
  parts.add('run store', () => { runs.close() })
  const recovered = runs.recoverInterrupted()
  const engine = createEngine({
    store,
    runs,
    executors,
    templates: createTemplateEngine(),
    signer,
    ...(network !== undefined ? { network } : {})
  }, { dataDir, nodeId: id, version: VERSION, ...(records === false ? { records: false } : {}), ...(labels !== undefined ? { labels } : {}), ...(within !== undefined ? { within } : {}) })
  return {
    id,
    dataDir,
    store,
    runs,
    recovered,
    engine,
    ...(network !== undefined ? { network } : {}),
    run: async (pipeline, options) => await engine.run(pipeline, options),
    close: async () => { await parts.stop() }
  }
}
