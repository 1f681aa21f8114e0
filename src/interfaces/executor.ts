import type { ExecutorKind } from './pipeline.js'

/** What to execute: a shell script, or a program with its arguments (no shell). */
export type ExecutionAction =
  | { readonly kind: 'shell', readonly shell: string, readonly script: string }
  | { readonly kind: 'command', readonly command: string, readonly args: readonly string[] }

/**
 * One execution of one step attempt, fully rendered. Paths are host paths; an executor that
 * runs the step elsewhere (a sandbox, a VM) maps them to the paths its `layout` returned.
 */
export interface ExecutionSpec {
  readonly action: ExecutionAction
  /** The whole environment of the step (executors add nothing but what they document). */
  readonly env: Readonly<Record<string, string>>
  /** Data the step reads, name to host path, mounted read-only. */
  readonly inputs: Readonly<Record<string, string>>
  /** CID inputs, CID to host path, also visible at `/ipfs/<cid>` where the executor can. */
  readonly cids?: Readonly<Record<string, string>>
  /**
   * Make each `/ipfs/<cid>` a private writable copy (as `bac job submit` does, like the seed),
   * kept afterwards as `ipfs/<cid>/` in the outputs. The stored content never changes.
   */
  readonly writableCids?: boolean
  /** The step's outputs folder on the host, empty; the executor makes it unless it exists. */
  readonly outputsDir: string
  /** A scratch folder on the host for the step's working directory; the executor makes it unless it exists. */
  readonly workDir: string
  /**
   * An existing folder for temporary files (TMPDIR) where the executor uses the host's, shared
   * by the steps of a run as /tmp would be. Without it the executor makes `<workDir>/tmp`.
   */
  readonly tmpDir?: string
  /** Where stdout and stderr are written (`stdout.log`, `stderr.log`), each made with its first byte: a missing log is an empty one. */
  readonly logsDir: string
  /** Stop the attempt after this long (SIGTERM, then SIGKILL after `killGraceMs`). */
  readonly timeoutMs?: number
  /** Bytes of stdout and of stderr kept in the log files; the rest is counted, not kept. */
  readonly maxLogBytes?: number
  /** Bytes the outputs folder may hold; more fails the attempt. */
  readonly maxOutputBytes?: number
  /** The root filesystem, by name or digest (the vm executor; others ignore it). */
  readonly image?: string
  /** CPUs and memory the attempt may use (the vm executor's machine size; others ignore it). */
  readonly resources?: { readonly cpus?: number, readonly memoryBytes?: number, readonly network?: boolean }
}

/** How an attempt ended. `exitCode` is null when a signal ended it or it never started. */
export interface ExecutionResult {
  readonly exitCode: number | null
  readonly signal: string | null
  readonly timedOut: boolean
  readonly cancelled: boolean
  /** Why the attempt failed before or around running the command (not found, output too big). */
  readonly error?: string
  readonly durationMs: number
  readonly stdoutBytes: number
  readonly stderrBytes: number
  /** Whether a log file was cut at `maxLogBytes`. */
  readonly logTruncated: boolean
  readonly outputBytes: number
}

/** A line or chunk the step printed, as a progress event. */
export interface LogChunk {
  readonly stream: 'stdout' | 'stderr'
  readonly text: string
}

/** Paths the template context gives a step, as the step itself sees them. */
export interface ExecutionLayout {
  readonly inputs: Readonly<Record<string, string>>
  readonly outputs: string
  readonly cids: Readonly<Record<string, string>>
}

export interface ExecuteOptions {
  readonly signal?: AbortSignal
  /** Called with output as it arrives (at most `maxLogBytes` per stream are also kept on disk). */
  readonly onLog?: (chunk: LogChunk) => void
}

/** Runs step attempts. One compliance suite (test/executors/compliance.ts) tests every one. */
export interface Executor {
  readonly kind: ExecutorKind
  /** The paths a step sees for its inputs and outputs; templates are rendered with them. */
  layout: (spec: Pick<ExecutionSpec, 'inputs' | 'outputsDir' | 'cids'>) => ExecutionLayout
  /**
   * What the attempt would run on beyond the command itself, for memoization: the vm executor
   * gives its kernel's and image's digests, so a result made on an older build of an image
   * is not reused. Undefined when nothing else counts (or the image is missing: the attempt fails).
   */
  identify?: (spec: Pick<ExecutionSpec, 'image'>) => Promise<string | undefined>
  /** Runs one attempt to its end; never throws for the step's own failure. */
  execute: (spec: ExecutionSpec, options?: ExecuteOptions) => Promise<ExecutionResult>
}
