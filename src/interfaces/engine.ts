import type { RunStatus, StepStatus } from './run-store.js'

/** How a run was started; templates read it as `trigger`. */
export interface TriggerInfo {
  readonly kind: 'manual' | 'watch' | 'message' | 'schedule'
  /** The dropped file, for `watch`. */
  readonly file?: { readonly path: string, readonly name: string, readonly size: number, readonly cid: string }
  /** The message row, for `message`. */
  readonly message?: Readonly<Record<string, unknown>>
}

/** Progress of a run, as typed events the CLI renders and the HTTP API streams. */
export type RunEvent =
  | { readonly type: 'run:start', readonly runId: string, readonly pipeline: string, readonly steps: readonly string[] }
  | { readonly type: 'step:start', readonly runId: string, readonly stepId: string, readonly item?: number, readonly attempt: number, readonly executor: string }
  | { readonly type: 'step:log', readonly runId: string, readonly stepId: string, readonly item?: number, readonly stream: 'stdout' | 'stderr', readonly text: string }
  | { readonly type: 'step:end', readonly runId: string, readonly stepId: string, readonly status: StepStatus, readonly durationMs: number, readonly outputsCid?: string, readonly reason?: string }
  | { readonly type: 'run:end', readonly runId: string, readonly status: RunStatus, readonly durationMs: number, readonly resultCid?: string, readonly reason?: string }

export interface RunOptions {
  /** Input values as given on the command line (`--input name=value`). */
  readonly inputs?: Readonly<Record<string, string>>
  /** @default { kind: 'manual' } */
  readonly trigger?: TriggerInfo
  /** Steps run at the same time at most. @default the number of cores */
  readonly concurrency?: number
  /** Run every step, even when an identical one has finished before. */
  readonly noCache?: boolean
  /** Continue this interrupted or failed run: steps that finished keep their outputs. */
  readonly resume?: string
  /** Relative `--input` paths are relative to this folder. @default process.cwd() */
  readonly cwd?: string
  /** Where the result is copied, as `<outputsDir>/<run-id>/`. @default `<cwd>/outputs` */
  readonly outputsDir?: string
  readonly signal?: AbortSignal
  readonly onEvent?: (event: RunEvent) => void
}

export interface StepOutcome {
  readonly status: StepStatus
  readonly outputsCid?: string
  readonly reason?: string
}

export interface RunOutcome {
  readonly runId: string
  readonly status: RunStatus
  readonly resultCid?: string
  readonly reason?: string
  readonly steps: Readonly<Record<string, StepOutcome>>
  /** Where the result was copied. */
  readonly outputsDir?: string
}
