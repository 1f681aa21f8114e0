import type { ContentStore } from '../interfaces/content-store.js'
import type { RunEvent } from '../interfaces/engine.js'
import type { Executor } from '../interfaces/executor.js'
import type { ExecutorKind, Pipeline } from '../interfaces/pipeline.js'
import type { RunStore } from '../interfaces/run-store.js'
import type { TemplateEngine } from '../interfaces/template.js'
import type { RunScope } from './context.js'
import type { InputValue } from './inputs.js'
import type { Semaphore } from './semaphore.js'
import type { Workspace } from './workspace.js'

/** The parts the engine runs on, each typed by its interface. */
export interface EngineComponents {
  readonly store: ContentStore
  readonly runs: RunStore
  readonly executors: Readonly<Partial<Record<ExecutorKind, Executor>>>
  readonly templates: TemplateEngine
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
  readonly noCache: boolean
  readonly signal?: AbortSignal
  readonly emit: (event: RunEvent) => void
}
