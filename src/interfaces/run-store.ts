/** A run's state. `interrupted`: bac died while it ran (kill -9, power loss); `--resume` continues it. */
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted'
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
}

/** What a new run is created with; the store sets its status and times. */
export type NewRun = Pick<RunRecord, 'id' | 'pipeline' | 'pipelineFile' | 'summary' | 'data' | 'trigger' | 'inputs'>

export interface RunListOptions {
  readonly limit?: number
  /** Runs created before this run's creation (for paging). */
  readonly before?: string
  readonly status?: RunStatus
}

/**
 * Persistent history of runs, steps and executions. Every change is one transaction, so state
 * is never half written; it survives kill -9 of the process.
 */
export interface RunStore {
  close: () => void
  /** Makes the changes `fn` makes as one transaction: all of them or, if it throws, none. */
  atomically: <T>(fn: () => T) => T
  createRun: (run: NewRun) => RunRecord
  /** Marks the run running and records which process owns it. */
  startRun: (id: string) => void
  finishRun: (id: string, status: Exclude<RunStatus, 'queued' | 'running'>, result: { resultCid?: string, reason?: string }) => void
  /** Sets a step's state (creating it on first use). */
  setStep: (runId: string, stepId: string, update: Partial<Omit<StepRecord, 'runId' | 'stepId'>> & { status: StepStatus }) => void
  startExecution: (execution: Omit<ExecutionRecord, 'id' | 'endedAt' | 'exitCode' | 'signal' | 'outputsCid' | 'error'>) => number
  finishExecution: (id: number, result: Pick<ExecutionRecord, 'exitCode' | 'signal' | 'outputsCid' | 'error'>) => void
  /** A finished step's outputs with this cache key, from any earlier run. */
  cached: (cacheKey: string) => string | undefined
  remember: (cacheKey: string, outputsCid: string) => void
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
