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
}

/** A run to start on a node: a pipeline validated here, where its file stands, and how to run it. */
export interface RunStart {
  readonly pipeline: import('./pipeline.js').Pipeline
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
 * A bac node as its users see it, wherever it runs: the node serving on a data dir or named by
 * `--node` (through its HTTP API), or the data dir itself (its run store and content store, read
 * and written in this process). Each command of the CLI asks for one and uses it alone.
 */
export interface BacNode {
  /** Where the node is, for messages: its API's URL, or its data dir. */
  readonly where: string
  listRuns: (options?: RunListOptions) => Promise<RunRecord[]>
  /** A run by id or unique prefix, with its steps and attempts. */
  describeRun: (id: string) => Promise<RunDescription>
  /** What the steps printed (each step's last attempt), or with `follow`, every attempt as it prints until the run ends. */
  logs: (id: string, options: { readonly step?: string, readonly follow?: boolean }, onChunk: (chunk: LogChunk) => void) => Promise<void>
  /** Cancels a run the node runs or holds waiting; resolves with its full id. */
  cancelRun: (id: string) => Promise<string>
  /** A run's signed provenance record. */
  provenance: (id: string) => Promise<Envelope>
  /** Adds a file or folder of this machine to the node's store; its CID. */
  addContent: (path: string) => Promise<string>
  /** A file's bytes from the node's store. */
  catContent: (cid: string) => AsyncIterable<Uint8Array>
  /** Writes a file or folder of the node's store to `target` here (which must not exist), every block checked. */
  getContent: (cid: string, target: string) => Promise<void>
  /** Runs a pipeline on the node, reporting its events; resolves at its end, its result copied to `outputsDir` here. */
  run: (start: RunStart, options: { readonly signal?: AbortSignal, readonly onEvent?: (event: import('./engine.js').RunEvent) => void }) => Promise<RunEnd & { readonly outputsDir?: string, readonly provenanceCid?: string }>
  /** Runs the seed's job on the node, reporting its events; resolves at its end. */
  submitJob: (job: JobRequest, options: { readonly signal?: AbortSignal, readonly onEvent?: (event: import('./engine.js').RunEvent) => void }) => Promise<RunEnd & { readonly outputsDir?: string }>
  close: () => Promise<void>
}
