import type { Engine, QueueOptions } from '../interfaces/engine.js'
import type { Pipeline } from '../interfaces/pipeline.js'
import type { NewRun, RunStore } from '../interfaces/run-store.js'

/** What every trigger of one pipeline works with. */
export interface TriggerInit {
  readonly pipeline: Pipeline
  readonly runs: RunStore
  readonly engine: Engine
  /** Where relative paths of the runs' options are resolved. */
  readonly cwd: string
  readonly outputsDir?: string
  /** Called after a run was queued, to start it. */
  readonly queued: () => void
}

/** The record of a run a trigger queues, with the node's cwd and outputs dir. */
export function prepareRun (init: Omit<TriggerInit, 'pipeline' | 'queued'>, pipeline: Pipeline, queue: Pick<QueueOptions, 'trigger' | 'inputs'>): NewRun {
  return init.engine.prepare(pipeline, {
    ...queue,
    cwd: init.cwd,
    ...(init.outputsDir !== undefined ? { outputsDir: init.outputsDir } : {})
  })
}

/**
 * Takes something for a pipeline and queues its run, as one transaction: the ledger entry
 * (`source`, `key`) and the queued run are written together or not at all. Returns the new run's
 * id in `runId`, or, when this was taken before, the earlier run's id in `earlier` (nothing queued).
 */
export function takeOnce (
  init: TriggerInit,
  took: { readonly source: string, readonly key: string, readonly stamp?: string },
  queue: Pick<QueueOptions, 'trigger' | 'inputs'>
): { runId: string, earlier?: string } {
  const { pipeline, runs } = init
  const run = prepareRun(init, pipeline, queue)
  const earlier = runs.atomically(() => {
    const taken = runs.take({ pipeline: pipeline.name, ...took, runId: run.id })
    if (taken === undefined) runs.createRun(run)
    return taken
  })
  if (earlier !== undefined) return { runId: run.id, earlier }
  init.queued()
  return { runId: run.id }
}
