import type { ContentEntry } from './content-store.js'
import type { RunEvent } from './engine.js'
import type { NodeAdvert, PeerInfo } from './network.js'
import type { Pipeline } from './pipeline.js'
import type { Envelope } from './provenance.js'
import type { ExecutionRecord, RunListOptions, RunRecord, StepRecord } from './run-store.js'

/** A piece of what one attempt of a step printed. */
export interface LogChunk {
  readonly stepId: string
  /** The `foreach` item, when the step fans out. */
  readonly item?: number
  readonly attempt: number
  readonly node: string
  readonly stream: 'stdout' | 'stderr'
  readonly text: string
}

/** A run with its steps and every attempt: what `bac job describe` shows and `GET /api/v1/runs/<id>` answers. */
export interface RunDescription {
  readonly run: RunRecord
  readonly steps: readonly StepRecord[]
  readonly executions: readonly ExecutionRecord[]
}

/** The seed's job: one command in the sandbox, each CID at `/ipfs/<cid>` as a private writable copy. */
export interface JobRequest {
  readonly cids: readonly string[]
  readonly command: string
}

/** How a run a node was asked for ended. */
export interface RunEnd {
  readonly runId: string
  readonly status: RunRecord['status']
  readonly resultCid?: string
  readonly reason?: string
  /** The run's signed provenance record, when it ended with a result. */
  readonly provenanceCid?: string
}

/** How a run started with `BacNode.run` ended, and where its result was copied on this machine. */
export interface RunResult extends RunEnd {
  readonly outputsDir?: string
}

/**
 * A run a node was asked for: its events as they come (from its `run:start` to its `run:end`;
 * iterated once), and how it ended (whether or not the events are read). Leaving the events
 * early does not stop the run; the signal given when it was started does.
 */
export interface RunHandle<End extends RunEnd = RunResult> {
  readonly events: AsyncIterable<RunEvent>
  readonly ended: Promise<End>
}

/** A run to start on a node: a pipeline validated here, where its file stands, and how to run it. */
export interface RunStart {
  readonly pipeline: Pipeline
  /** The pipeline's text, as validated (a node elsewhere validates it again, as if it stood at `pipeline.file`). */
  readonly text: string
  /** Input values as given (`--input name=value`); relative file paths are relative to `cwd`. */
  readonly inputs: Readonly<Record<string, string>>
  readonly cwd: string
  /** Where the result is copied, as `<outputsDir>/<run-id>/`, on this machine. */
  readonly outputsDir: string
  readonly concurrency?: number
  readonly noCache?: boolean
  /** Continue this run (on the data dir only). */
  readonly resume?: string
  readonly executor?: string
  readonly image?: string
}

/**
 * A run asked for by name or text (`POST /api/v1/runs`): which pipeline (one the node serves, by
 * name, or a path under its pipelines folders; or the pipeline's text), with what, and where.
 * Paths are the node's: a serving node takes only those in the folders it allows.
 */
export interface RunRequest {
  /** A pipeline the node serves, by name, or the path of a pipeline file under its pipelines folders. */
  readonly pipeline?: string
  /** The pipeline's YAML, when the caller sends it rather than naming one. */
  readonly text?: string
  /** The seed's job instead of a pipeline: one command in the sandbox with these CIDs at `/ipfs/<cid>` (`bac job submit`). */
  readonly job?: JobRequest
  /** Where `text` stands (an absolute path on the node): `uses:` and relative paths are resolved from it. */
  readonly file?: string
  /** Input values, as `--input name=value` gives them. */
  readonly inputs?: Readonly<Record<string, string>>
  /** The folder relative input paths are resolved in. */
  readonly cwd?: string
  /** Where the result is copied, as `<outputsDir>/<run-id>/`; null: nowhere (the caller fetches it by its CID). */
  readonly outputsDir?: string | null
  readonly noCache?: boolean
  readonly concurrency?: number
  /** Run every step on this executor. */
  readonly executor?: string
  /** With executor vm: every step's image. */
  readonly image?: string
}

/** A batch of message rows as sent: JSON, NDJSON or an Arrow IPC stream, with its media type. */
export interface MessageBatch {
  readonly body: Uint8Array
  readonly contentType: string
  /** An idempotency key: the same batch sent again under it is not run again. */
  readonly key?: string
}

/** What a node did with a batch: the runs it queued, one per row and pipeline on the topic. */
export interface AcceptedBatch {
  readonly topic: string
  readonly runs: ReadonlyArray<{ readonly id: string, readonly pipeline: string, readonly row: number }>
  /** The batch had been accepted before under the same idempotency key: these are its runs. */
  readonly duplicate: boolean
}

/** Who a node is (`GET /api/v1/node`): its id, the pipelines and topics it serves; on a network, its peer id, addresses and advert. */
export interface NodeInfo {
  readonly id: string
  readonly pipelines: readonly string[]
  readonly topics: readonly string[]
  readonly peerId?: string
  readonly addrs?: readonly string[]
  readonly advert?: NodeAdvert
}

/** What starts runs of one pipeline a node serves, and what those triggers did (counted over its newest 1,000 runs). */
export interface PipelineTriggers {
  readonly pipeline: string
  readonly file: string
  /** Its drop folder: files taken (runs started), runs waiting, runs that failed. */
  readonly watch?: { readonly folder: string, readonly taken: number, readonly waiting: number, readonly failed: number }
  /** Its message topic: runs messages started, and when the last came. */
  readonly message?: { readonly topic: string, readonly runs: number, readonly lastAt?: number }
  /** Its schedule: when it fires next, runs it started, and when the last was. */
  readonly schedule?: { readonly next?: number, readonly runs: number, readonly lastAt?: number }
}

/** Whether a node works (`GET /api/v1/health`), and what it is busy with. */
export interface NodeHealth {
  readonly ok: boolean
  readonly id: string
  readonly version: string
  readonly uptimeMs: number
  readonly runs: { readonly running: number, readonly queued: number }
  /** On a network: its trusted, connected peers, and the steps it runs for them now. */
  readonly peers?: number
  readonly runningForPeers?: number
}

/**
 * A bac node as its users see it, wherever it runs: the node serving on a data dir or named by
 * `--node` (through its HTTP API), or the data dir itself (its run store and content store, read
 * and written in this process). Each command of the CLI asks for one and uses it alone; the HTTP
 * API serves any one of them.
 */
export interface BacNode {
  /** Where the node is, for messages: its API's URL, or its data dir. */
  readonly where: string
  info: () => Promise<NodeInfo>
  health: () => Promise<NodeHealth>
  /** The peers it knows (a node on no network has none). */
  peers: () => Promise<PeerInfo[]>
  listRuns: (options?: RunListOptions) => Promise<RunRecord[]>
  /** A run by id or unique prefix, with its steps and attempts. */
  describeRun: (id: string) => Promise<RunDescription>
  /** What the steps printed (each step's last attempt), or with `follow`, every attempt as it prints until the run ends. */
  logs: (id: string, options: { readonly step?: string, readonly follow?: boolean, readonly signal?: AbortSignal }, onChunk: (chunk: LogChunk) => void) => Promise<void>
  /** Cancels a run the node runs or holds waiting; resolves with its full id. */
  cancelRun: (id: string) => Promise<string>
  /** A run's signed provenance record. */
  provenance: (id: string) => Promise<Envelope>
  /** What starts runs of the pipelines it serves (none for the data dir alone). */
  triggers: () => Promise<PipelineTriggers[]>
  /**
   * Every run's events as they happen (not what steps print): what a dashboard's list follows.
   * Resolves once the node watches for this caller: every event after that is in it.
   */
  watch: (signal?: AbortSignal) => Promise<AsyncIterable<RunEvent>>
  /** Starts a run asked for by name or text; its id, once the node has recorded it. */
  startRun: (request: RunRequest) => Promise<string>
  /** A run's events, from its start (those already sent) to its `run:end`, whether it was started here or by a trigger. */
  follow: (id: string, signal?: AbortSignal) => AsyncIterable<RunEvent>
  /** Runs a pipeline validated here; its result is copied to `outputsDir` on this machine. */
  run: (start: RunStart, options?: { readonly signal?: AbortSignal }) => RunHandle
  /** Runs the seed's job on the node. */
  submitJob: (job: JobRequest, options?: { readonly signal?: AbortSignal }) => RunHandle
  /** Sends a batch of messages to a topic; resolves once every run is recorded. */
  sendMessages: (topic: string, batch: MessageBatch) => Promise<AcceptedBatch>
  /** Adds a file or folder of this machine to the node's store; its CID. */
  addContent: (path: string) => Promise<string>
  /** Stores the blocks of a CAR v1 stream, each checked against its CID, as they arrive; the CAR's roots. */
  importCar: (car: AsyncIterable<Uint8Array>, signal?: AbortSignal) => Promise<string[]>
  /** Content the node holds, as a CAR v1 stream (a CID it does not hold is a `ContentNotFoundError` at once). */
  exportCar: (cid: string, signal?: AbortSignal) => AsyncIterable<Uint8Array>
  /** The entries of a folder in the node's store (`cid` or `cid/path`); a file is a `NotAFolderError`. */
  listContent: (path: string) => Promise<ContentEntry[]>
  /** A file's bytes from the node's store. */
  catContent: (cid: string) => AsyncIterable<Uint8Array>
  /** Writes a file or folder of the node's store to `target` here (which must not exist), every block checked. */
  getContent: (cid: string, target: string) => Promise<void>
  close: () => Promise<void>
}
