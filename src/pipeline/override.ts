import { UsageError } from '../interfaces/errors.js'
import type { ExecutorKind, Pipeline } from '../interfaces/pipeline.js'

const KINDS: readonly ExecutorKind[] = ['process', 'sandbox', 'vm']

/**
 * The same pipeline with every step on one executor (`bac run --executor vm --image python`):
 * the paths a step sees come from its template context, so a pipeline runs unchanged on each.
 * `image` (vm only) replaces the steps' own; without it a step keeps its image, else the default.
 */
export function onExecutor (pipeline: Pipeline, executor: string, image?: string): Pipeline {
  if (!(KINDS as readonly string[]).includes(executor)) throw new UsageError(`--executor must be one of ${KINDS.join(', ')}, got '${executor}'`)
  if (image !== undefined && executor !== 'vm') throw new UsageError('--image is for the vm executor: add --executor vm')
  return {
    ...pipeline,
    steps: Object.fromEntries(Object.entries(pipeline.steps).map(([id, step]) => {
      const { image: own, ...rest } = step
      const kept = image ?? (executor === 'vm' ? own : undefined)
      return [id, { ...rest, executor: executor as ExecutorKind, ...(kept !== undefined ? { image: kept } : {}) }]
    }))
  }
}
