import type { ContentStore, PathScope } from '../interfaces/content-store.js'
import type { RunEvent } from '../interfaces/engine.js'
import type { Executor } from '../interfaces/executor.js'
import type { StepNetwork } from '../interfaces/network.js'
import type { ExecutorKind, Pipeline } from '../interfaces/pipeline.js'
import type { Signer } from '../interfaces/provenance.js'
import type { RunStore } from '../interfaces/run-store.js'
import type { TemplateEngine } from '../interfaces/template.js'
import type { RunScope } from './context.js'
import type { InputValue } from './inputs.js'
import type { Placement } from './placement.js'
import type { Semaphore } from './semaphore.js'
import type { Workspace } from './workspace.js'

/** The parts the engine runs on, each typed by its interface. */
export interface EngineComponents {
  readonly store: ContentStore
  readonly runs: RunStore
  readonly executors: Readonly<Partial<Record<ExecutorKind, Executor>>>
  readonly templates: TemplateEngine
  /** The node's peers, when it is on a network: steps may run on them. */
  readonly network?: StepNetwork
  /** The node's identity key: its peer id is `run.node`, and it signs provenance records and attestations. */
  readonly signer: Signer
}

/** Everything the steps of one run share. */
export interface RunContext {
  readonly components: EngineComponents
  readonly pipeline: Pipeline
  readonly runId: string
  readonly nodeId: string
  readonly scope: RunScope
  readonly pipelineInputs: Readonly<Record<string, InputValue>>
  readonly workspace: Workspace
  readonly slots: Semaphore
  /** Picks the node of each attempt, when the node is on a network. */
  readonly placement?: Placement
  readonly noCache: boolean
  /** Real folders every path read as content must lie in; unset: any. */
  readonly within?: PathScope
  readonly signal?: AbortSignal
  readonly emit: (event: RunEvent) => void
}

/** What one attempt reads, on the node that runs it (the requester's, or a peer's for a task it sent). */
export type AttemptContext = Pick<RunContext, 'components' | 'workspace' | 'scope' | 'pipelineInputs'> & { readonly signal?: AbortSignal | undefined }
