/**
 * The validated, normalized pipeline model. `validatePipeline()` builds it from YAML; the engine
 * runs it. Durations are milliseconds here (`…Ms`), sizes are bytes; templates stay strings and are
 * rendered per run.
 */

/** The type of a pipeline or job input. */
export type InputType = 'file' | 'cid' | 'string' | 'number' | 'boolean'

/** A scalar value as YAML gives it. */
export type Scalar = string | number | boolean

export interface InputSpec {
  readonly name: string
  readonly type: InputType
  readonly description?: string
  readonly required: boolean
  /** A literal or a template (rendered when the run starts and no value was given). */
  readonly default?: Scalar
  /**
   * For a `string` input: a regular expression (JavaScript, Unicode mode) the whole value must
   * match, as written (the run checks `^(?:pattern)$`).
   */
  readonly pattern?: string
  /** The only values the input takes (strings for a `string` input, numbers for a `number` one). */
  readonly enum?: ReadonlyArray<string | number>
}

export type WatchAfter = 'keep' | 'move' | 'delete'

export interface WatchTrigger {
  /** Absolute path of the drop folder (relative paths are resolved against the pipeline's folder). */
  readonly path: string
  readonly glob: string
  /** The `file` input that receives each dropped file. */
  readonly input?: string
  readonly recursive: boolean
  readonly after: WatchAfter
  /** How long a file's size and mtime must stay the same before it is taken. */
  readonly stableMs: number
}

export interface MessageTrigger {
  readonly topic: string
  /** A JSON schema every message row must satisfy, inline or loaded from a file. */
  readonly schema?: Readonly<Record<string, unknown>>
}

export interface ScheduleTrigger {
  readonly cron: string
  readonly timezone?: string
}

export interface Triggers {
  readonly manual: boolean
  readonly watch?: WatchTrigger
  readonly message?: MessageTrigger
  readonly schedule?: ScheduleTrigger
}

export type ExecutorKind = 'process' | 'sandbox' | 'vm'
export type MergeMode = 'merged' | 'per-node'

export interface OutputSpec {
  readonly name: string
  /** Path relative to the step's outputs folder. */
  readonly path: string
  readonly description?: string
}

export interface RetryPolicy {
  /** Total attempts, the first included (1 = no retry). */
  readonly attempts: number
  /** Delay before the first retry. */
  readonly backoffMs: number
  /** Each further retry waits `factor` times longer. */
  readonly factor: number
}

export interface Resources {
  readonly cpus?: number
  readonly memoryBytes?: number
  /** A network for the step (the vm executor; off by default). */
  readonly network?: boolean
}

/** A `foreach` fan-out: over literal items, a rendered list, or the files of an input. */
export type Foreach =
  | { readonly kind: 'items', readonly items: readonly Scalar[] }
  | { readonly kind: 'template', readonly template: string }
  | { readonly kind: 'files', readonly input: string, readonly glob: string }

/** What a step executes, after `uses` has been resolved. */
export type StepAction =
  | { readonly kind: 'run', readonly run: string, readonly shell: string }
  | { readonly kind: 'command', readonly command: string, readonly args: readonly string[] }

export interface JobTemplate {
  /** Absolute path of the template file. */
  readonly file: string
  /** The SHA-256 (hex) of the text the template was built from, as validated. */
  readonly sha256?: string
  readonly name: string
  readonly description?: string
  readonly inputs: Readonly<Record<string, InputSpec>>
  readonly outputs: Readonly<Record<string, OutputSpec>>
  readonly env: Readonly<Record<string, string>>
  readonly action: StepAction
  readonly executor?: ExecutorKind
  readonly image?: string
  readonly timeoutMs?: number
  readonly resources?: Resources
}

export interface StepSpec {
  readonly id: string
  readonly needs: readonly string[]
  /** The action to execute; for a `uses` step, the template's. */
  readonly action: StepAction
  /** Set when the step `uses` a job template; its `with` values are templates of the pipeline. */
  readonly uses?: { readonly ref: string, readonly template: JobTemplate, readonly with: Readonly<Record<string, Scalar>> }
  readonly executor: ExecutorKind
  readonly image?: string
  /** Name to template, CID or path; mounted read-only. */
  readonly inputs: Readonly<Record<string, string>>
  readonly outputs: Readonly<Record<string, OutputSpec>>
  readonly nodes: number
  readonly runsOn: readonly string[]
  readonly foreach?: Foreach
  readonly timeoutMs?: number
  readonly retries: RetryPolicy
  /** A template; the step runs when it renders to a truthy value. */
  readonly if?: string
  readonly env: Readonly<Record<string, string>>
  readonly merge: MergeMode
  readonly resources?: Resources
  /** `/ipfs/<cid>` are private writable copies (set by `bac job submit`, not by the language). */
  readonly writableCids?: boolean
}

export interface Pipeline {
  /** Absolute path of the pipeline file. */
  readonly file: string
  readonly name: string
  readonly description?: string
  readonly on: Triggers
  readonly inputs: Readonly<Record<string, InputSpec>>
  readonly env: Readonly<Record<string, string>>
  readonly steps: Readonly<Record<string, StepSpec>>
  /** Step ids in an order where every step comes after the steps it needs. */
  readonly order: readonly string[]
  /** What `bac job list` shows as COMMAND, when the pipeline sets it (a submitted job's command). */
  readonly summary?: string
  /** The text the model was built from, exactly as validated (what a run's record names, not the file as it is later). */
  readonly text?: string
}
