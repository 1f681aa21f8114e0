import type { CacheSource, Envelope } from './provenance.js'

/** A run's state. `interrupted`: bac died while it ran (kill -9, power loss); `--resume` continues it. */
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted'

/** Whether a run with this status has ended for good (an interrupted one is taken up again). */
export function hasEnded (status: RunStatus | undefined): status is 'succeeded' | 'failed' | 'cancelled' {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled'
}
/** A step's state within a run. `cached`: an identical earlier step's outputs were reused. */
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled' | 'cached' | 'interrupted'

export interface RunRecord {
  readonly id: string
  readonly pipeline: string
  readonly pipelineFile: string
  readonly status: RunStatus
  /** What `bac job list` shows as COMMAND: the command of a one-step run, else the pipeline. */
  readonly summary: string
  /** Input CIDs, for the DATA column. */
  readonly data: readonly string[]
  /** How the run was started, as JSON-able data (kind, file, message). */
  readonly trigger: Readonly<Record<string, unknown>>
  /** The values the run's inputs resolved to. */
  readonly inputs: Readonly<Record<string, unknown>>
  readonly createdAt: number
  readonly startedAt?: number
  readonly endedAt?: number
  readonly resultCid?: string
  /** Why the run failed, was cancelled or interrupted. */
  readonly reason?: string
  /** For a run a trigger queued: how to start it (the options it was queued with). */
  readonly request?: QueuedStart
  /** The CID of the run's signed provenance record (a DSSE envelope), once the run has ended with a result. */
  readonly provenanceCid?: string
  /** The pipeline's steps and their `needs` as the run was made (what `bac graph` and the dashboard draw). */
  readonly graph?: RunGraph
}

/** One step of a run's DAG. */
export interface GraphStep {
  readonly id: string
  readonly needs: readonly string[]
  readonly executor: string
  /** The nodes it runs on at once (`nodes: N`). */
  readonly nodes: number
  /** It fans out (`foreach`): one instance per item. */
  readonly foreach: boolean
  /** The job template it uses, when it uses one. */
  readonly uses?: string
  /** It runs only when its `if:` holds. */
  readonly conditional: boolean
}

/** A run's DAG: its steps in the order they may run. */
export interface RunGraph {
  readonly steps: readonly GraphStep[]
}

/** An input value as given: text (a path, a CID, a value), or content already in the store. */
export type GivenInput = string | { readonly cid: string, readonly name: string }

/** What a queued run is started with, kept with it so that any later process can start it. */
export interface QueuedStart {
  readonly inputs: Readonly<Record<string, GivenInput>>
  /** Relative input paths are relative to this folder. */
  readonly cwd: string
  /** Where the result is copied; null: nowhere. */
  readonly outputsDir?: string | null
  readonly concurrency?: number
  readonly noCache?: boolean
}

/**
 * One thing a trigger took, so it is never taken twice: a dropped file's content, a schedule's
 * fire time, a message. Written in the same transaction as the run it started.
 */
export interface LedgerEntry {
  readonly pipeline: string
  /** What was taken from: `file:<absolute path>`, `schedule`, `message:<topic>`. */
  readonly source: string
  /** Which version of it: the file's content CID, the fire time, the message's key. */
  readonly key: string
  readonly runId: string
  /** A file's size, mtime and inode when taken: an unchanged file is known without reading it. */
  readonly stamp?: string
  /** Whatever follows the run (moving the file away) is done. */
  readonly settled: boolean
}

export interface StepRecord {
  readonly runId: string
  readonly stepId: string
  readonly status: StepStatus
  /** The memoization key: rendered spec, input CIDs, executor and image. */
  readonly cacheKey?: string
  readonly outputsCid?: string
  readonly startedAt?: number
  readonly endedAt?: number
  readonly reason?: string
  /** Where cached outputs came from, by instance (`foreach` item index, or `-` for a step without items). */
  readonly cachedFrom?: Readonly<Record<string, CacheSource>>
}

export interface ExecutionRecord {
  readonly id: number
  readonly runId: string
  readonly stepId: string
  /** 1 for the first attempt. */
  readonly attempt: number
  /** The `foreach` item index, when the step fans out. */
  readonly item?: number
  readonly node: string
  readonly executor: string
  readonly startedAt: number
  readonly endedAt?: number
  readonly exitCode?: number
  readonly signal?: string
  readonly outputsCid?: string
  readonly logDir?: string
  readonly error?: string
  /** The peer id of the node that ran it (this node's own for a local attempt). */
  readonly peer?: string
  /** The command as the executing node rendered it (its executor's action). */
  readonly command?: unknown
  /** The image and kernel digests the executor reported, if any. */
  readonly machine?: string
  /** The memo key of the attempt. */
  readonly cacheKey?: string
  /** A peer's signed attestation of the attempt it ran for this node. */
  readonly attestation?: Envelope
}

/** What a finished attempt adds to its record. */
export type ExecutionEnd = Pick<ExecutionRecord, 'exitCode' | 'signal' | 'outputsCid' | 'error' | 'command' | 'machine' | 'cacheKey' | 'attestation'>

/** A memoized step's outputs, and the run that made them. */
export interface CacheEntry {
  readonly outputsCid: string
  readonly runId?: string
  /** The peer id of the node that made them, when it was another node; with its signed attestation. */
  readonly node?: string
  readonly attestation?: Envelope
}

/** What a new run is created with; the store sets its status and times. */
export type NewRun = Pick<RunRecord, 'id' | 'pipeline' | 'pipelineFile' | 'summary' | 'data' | 'trigger' | 'inputs' | 'request' | 'graph'>

export interface RunListOptions {
  readonly limit?: number
  /** Runs created before this run's creation (for paging). */
  readonly before?: string
  readonly status?: RunStatus
  /** Only runs that produced this CID: as their result, or as a step's (or an attempt's) outputs. */
  readonly cid?: string
}

/**
 * Persistent history of runs, steps and executions. Every change is one transaction, so state
 * is never half written; it survives kill -9 of the process.
 */
export interface RunStore {
  close: () => void
  /**
   * Makes the changes `fn` makes as one transaction: all of them or, if it throws, none. With
   * `durable`, the commit is on disk before this returns (it survives a power loss, not only a
   * crash of the process): for what bac has promised to someone, such as an accepted message.
   */
  atomically: <T>(fn: () => T, options?: { durable?: boolean }) => T
  createRun: (run: NewRun) => RunRecord
  /** Marks the run running and records which process owns it (and, for a queued run, what its inputs resolved to). */
  startRun: (id: string, resolved?: Pick<RunRecord, 'inputs' | 'data'>) => void
  /**
   * Takes a queued (or interrupted) run for this process: true when this call made it running,
   * false when another process has it or it is not waiting. Two processes never both get one.
   */
  claimRun: (id: string) => boolean
  /**
   * Runs of a pipeline file waiting to be started, oldest first: queued ones, and, with
   * `interrupted`, those a trigger started that a dead process left interrupted.
   */
  waitingRuns: (pipelineFile: string, limit: number, options?: { interrupted?: boolean }) => RunRecord[]
  /**
   * Records what a trigger took. Returns undefined when it is new, else the id of the run that
   * took it before (and records nothing).
   */
  take: (entry: Omit<LedgerEntry, 'settled'>) => string | undefined
  /** The entry a file with this stamp was taken under, if any. */
  takenByStamp: (pipeline: string, source: string, stamp: string) => LedgerEntry | undefined
  /** The newest entry of a source (for schedules: the last fire), or with `key`, that entry. */
  lastTaken: (pipeline: string, source: string, key?: string) => LedgerEntry | undefined
  /** Entries (of sources starting with `sourcePrefix`) whose run has ended but whose follow-up is not done, with the run's status. */
  unsettled: (pipeline: string, sourcePrefix: string) => Array<LedgerEntry & { readonly status: RunStatus }>
  settle: (pipeline: string, source: string, key: string) => void
  /** Records a run that is waiting (queued, or interrupted) as cancelled, so it never starts; false when it is not waiting. */
  cancelWaiting: (id: string, reason: string) => boolean
  finishRun: (id: string, status: Exclude<RunStatus, 'queued' | 'running'>, result: { resultCid?: string, reason?: string }) => void
  /** Sets a step's state (creating it on first use). */
  setStep: (runId: string, stepId: string, update: Partial<Omit<StepRecord, 'runId' | 'stepId'>> & { status: StepStatus }) => void
  startExecution: (execution: Omit<ExecutionRecord, 'id' | 'endedAt' | keyof ExecutionEnd>) => number
  finishExecution: (id: number, result: ExecutionEnd) => void
  /** A finished step's outputs with this cache key, from any earlier run. */
  cached: (cacheKey: string) => CacheEntry | undefined
  /** Remembers outputs under a memo key: made by `runId`, on this node unless `origin` names another (with its attestation). */
  remember: (cacheKey: string, outputsCid: string, runId?: string, origin?: { readonly node: string, readonly attestation: Envelope }) => void
  /** Keeps a run's signed provenance record (the envelope as JSON) and its CID in the content store. */
  setProvenance: (runId: string, cid: string, envelope: string) => void
  /** A run's provenance record (the envelope as JSON), if it has one. */
  provenance: (runId: string) => string | undefined
  getRun: (id: string) => RunRecord | undefined
  /** The run a unique id prefix names (as `bac job describe a1b2` takes). */
  findRun: (prefix: string) => RunRecord | undefined
  steps: (runId: string) => StepRecord[]
  executions: (runId: string, stepId?: string) => ExecutionRecord[]
  /** Runs, newest first. */
  listRuns: (options?: RunListOptions) => RunRecord[]
  /**
   * Marks `running` runs whose owning process is gone as `interrupted` (with the reason), and
   * their running steps and executions with them; returns their ids. Called when a node starts.
   */
  recoverInterrupted: () => string[]
}
