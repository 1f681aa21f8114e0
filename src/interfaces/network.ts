import type { ExecutionResult, LogChunk } from './executor.js'
import type { StepSpec } from './pipeline.js'
import type { Envelope } from './provenance.js'

/**
 * One attempt of one step instance, as a requester sends it to the node that runs it. Everything
 * in it is plain JSON: the executing node renders the templates itself, with its own paths.
 */
export interface StepTask {
  /** The run on the requester, and the requester's node id (templates read them as `run`). */
  readonly run: { readonly id: string, readonly pipeline: string, readonly node: string }
  readonly step: StepSpec
  readonly attempt: number
  readonly index?: number
  readonly item?: Readonly<Record<string, unknown>>
  /** The instance's input values: scalars, or content as `{ cid, name }`. */
  readonly inputs: Readonly<Record<string, unknown>>
  /** The run's pipeline inputs (for `uses` steps, the template's are in `inputs`). */
  readonly pipelineInputs: Readonly<Record<string, unknown>>
  readonly trigger: Readonly<Record<string, unknown>>
  readonly env: Readonly<Record<string, string>>
  /** What templates read of finished steps: `steps.<id>.outputs.cid` and the rest. */
  readonly steps: Readonly<Record<string, { readonly status: string, readonly outputs: Readonly<Record<string, string | null>> }>>
  /** Steps whose outputs the step reads by path: written out on the executing node first. */
  readonly place: readonly string[]
}

/** How a task ended on the node that ran it. */
export interface TaskResult {
  readonly result: ExecutionResult
  /** The outputs, stored on the executing node (the requester fetches them by CID). */
  readonly outputsCid?: string
  /** Why the attempt failed, as the executing node saw it. */
  readonly reason?: string
  /** The key the requester remembers the outputs under (the same command with the same content). */
  readonly key?: string
  /** The command as it ran there, its folders written `<attempt>` and `<run>`. */
  readonly command?: unknown
  /** Image and kernel digests the executor reported. */
  readonly machine?: string
  /** The executing node's signed attestation of the attempt (an in-toto statement in a DSSE envelope), when it made outputs. */
  readonly attestation?: Envelope
}

/** A trusted peer's answer that it holds outputs for a memo key, checked: signed by that peer, for that key. */
export interface CacheAnswer {
  /** The peer that answered (and holds the outputs). */
  readonly peer: string
  /** The node that made them and signed the attestation: the peer, or a node that ran them for it. */
  readonly node: string
  readonly outputsCid: string
  /** The run on that peer that made them. */
  readonly runId: string
  readonly attestation: Envelope
}

export interface TaskOptions {
  readonly signal?: AbortSignal
  readonly onLog?: (chunk: LogChunk) => void
  /** Called once the step's process is about to start. */
  readonly onStart?: () => void
}

/** What a node offers its peers; sent on request and kept fresh by each peer. */
export interface NodeAdvert {
  readonly nodeId: string
  readonly peerId: string
  readonly version: string
  readonly labels: Readonly<Record<string, string>>
  readonly executors: readonly string[]
  /** The VM images it holds (names and `sha256:` digests), with the vm executor; absent from older nodes. */
  readonly images?: readonly string[]
  /** Steps it runs at once at most, and how many it runs now. */
  readonly slots: number
  readonly running: number
  /** Where it listens, as multiaddrs with its peer id. */
  readonly addrs: readonly string[]
}

/** A peer as this node knows it. */
export interface PeerInfo {
  readonly advert: NodeAdvert
  /** Whether this node runs work for it and sends work to it. */
  readonly trusted: boolean
  readonly connected: boolean
  /** Epoch ms of the last advert received. */
  readonly lastSeen: number
  /** Tasks this node has running on it now. */
  readonly dispatched: number
}

/** The network as the scheduler sees it: who can run a step, and how to run it there. */
export interface StepNetwork {
  /** This node's own advert. */
  readonly self: NodeAdvert
  /** Trusted peers, connected, with a fresh advert. */
  peers: () => PeerInfo[]
  /** Runs a task on a peer; rejects with a `NodeLostError` or `DispatchRefusedError` when the peer fails, not the step. */
  dispatch: (peerId: string, task: StepTask, options?: TaskOptions) => Promise<TaskResult>
  /** Pulls every block of a CID from a peer into the local store. */
  fetch: (cid: string, from: string, options?: FetchOptions) => Promise<void>
  /**
   * Asks the trusted peers whether one holds outputs for a memo key: the first checked answer, or
   * undefined. With `makers`, only outputs one of those nodes made count (the nodes the step may run on).
   */
  askCache?: (key: string, options?: { signal?: AbortSignal, makers?: readonly string[] }) => Promise<CacheAnswer | undefined>
}

export interface FetchOptions {
  readonly signal?: AbortSignal
  /**
   * `blocks` (default): the whole DAG in one stream (`/bac/blocks/1.0.0`), falling back to bitswap
   * when the peer lacks the protocol or some block; `bitswap`: block by block, as with a peer that
   * is not bac.
   */
  readonly via?: 'blocks' | 'bitswap'
}
