import type { Pipeline } from './pipeline.js'
import type { CacheSource } from './provenance.js'
import type { GivenInput, NewRun, RunStatus, StepStatus } from './run-store.js'

/** How a run was started; templates read it as `trigger`. */
export interface TriggerInfo {
  readonly kind: 'manual' | 'watch' | 'message' | 'schedule'
  /** When the run was triggered (ISO 8601); for a schedule, the planned fire time. @default now */
  readonly time?: string
  /** The dropped file, for `watch`. */
  readonly file?: { readonly path: string, readonly name: string, readonly size: number, readonly cid: string }
  /** The message row, for `message`. */
  readonly message?: Readonly<Record<string, unknown>>
}

/** Progress of a run, as typed events the CLI renders and the HTTP API streams. */
export type RunEvent =
  | { readonly type: 'run:start', readonly runId: string, readonly pipeline: string, readonly steps: readonly string[] }
  | { readonly type: 'step:start', readonly runId: string, readonly stepId: string, readonly item?: number, readonly attempt: number, readonly executor: string, readonly node?: string }
  | { readonly type: 'step:log', readonly runId: string, readonly stepId: string, readonly item?: number, readonly stream: 'stdout' | 'stderr', readonly text: string }
  | { readonly type: 'step:end', readonly runId: string, readonly stepId: string, readonly status: StepStatus, readonly durationMs: number, readonly outputsCid?: string, readonly reason?: string }
  | {
    readonly type: 'run:end'
    readonly runId: string
    readonly status: RunStatus
    readonly durationMs: number
    readonly resultCid?: string
    readonly reason?: string
    readonly provenanceCid?: string
  }

export interface RunOptions {
  /** Input values as given on the command line (`--input name=value`), or content already stored. */
  readonly inputs?: Readonly<Record<string, GivenInput>>
  /** @default { kind: 'manual' } */
  readonly trigger?: TriggerInfo
  /** Steps run at the same time at most. @default the number of cores */
  readonly concurrency?: number
  /** Run every step, even when an identical one has finished before. */
  readonly noCache?: boolean
  /** Continue this interrupted or failed run: steps that finished keep their outputs. */
  readonly resume?: string
  /**
   * Start this queued run (one a trigger recorded with `prepare`), or take up again a triggered
   * run a dead process left interrupted. Its inputs and options are the ones it was queued with.
   */
  readonly queued?: string
  /** Relative `--input` paths are relative to this folder. @default process.cwd() */
  readonly cwd?: string
  /** Where the result is copied, as `<outputsDir>/<run-id>/`; null: nowhere (it stays in the store). @default `<cwd>/outputs` */
  readonly outputsDir?: string | null
  readonly signal?: AbortSignal
  readonly onEvent?: (event: RunEvent) => void
}

export interface StepOutcome {
  readonly status: StepStatus
  /** What later steps read: the merged view (or, with `merge: per-node`, a folder of `<k>/`). */
  readonly outputsCid?: string
  readonly reason?: string
  /**
   * What each of the step's nodes wrote, named `0`, `1`, … in the order of the CIDs: not by node
   * id, so the result does not depend on which nodes ran it (the run store's executions say).
   */
  readonly nodes?: Readonly<Record<string, string>>
  /** Where cached outputs came from, by instance (`foreach` item index, or `-`). */
  readonly cachedFrom?: Readonly<Record<string, CacheSource>>
}

export interface RunOutcome {
  readonly runId: string
  readonly status: RunStatus
  readonly resultCid?: string
  readonly reason?: string
  readonly steps: Readonly<Record<string, StepOutcome>>
  /** Where the result was copied. */
  readonly outputsDir?: string
  /** The CID of the run's signed provenance record (a DSSE envelope in the content store). */
  readonly provenanceCid?: string
}

/** How a run to be started later is described: the options a trigger queues it with. */
export interface QueueOptions {
  readonly trigger: TriggerInfo
  readonly inputs?: Readonly<Record<string, GivenInput>>
  readonly cwd: string
  /** Where the result is copied; null: nowhere. */
  readonly outputsDir?: string | null
  readonly concurrency?: number
  readonly noCache?: boolean
}

/** The scheduler as triggers and the node see it. */
export interface Engine {
  /** Runs a pipeline (or starts a queued run, with `options.queued`) to its end. */
  run: (pipeline: Pipeline, options?: RunOptions) => Promise<RunOutcome>
  /**
   * The record of a run to queue: the caller creates it in the run store, in the same
   * transaction as whatever made it (a trigger's ledger entry). Reads nothing, writes nothing.
   */
  prepare: (pipeline: Pipeline, options: QueueOptions) => NewRun
  /**
   * Checks what a run to be queued would read, before it is queued: input values (given, or
   * rendered from the trigger) that are paths must exist and lie in the folders the engine
   * allows. Throws the input's error; a no-op for an engine that allows any path.
   */
  preflight: (pipeline: Pipeline, options: Pick<QueueOptions, 'trigger' | 'inputs' | 'cwd'>) => void
}
