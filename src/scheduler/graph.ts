import type { Pipeline } from '../interfaces/pipeline.js'
import type { RunGraph } from '../interfaces/run-store.js'

/** A pipeline's DAG as a run keeps it: each step with its needs, where and how often it runs. */
export function graphOf (pipeline: Pick<Pipeline, 'steps'>): RunGraph {
  return {
    steps: Object.values(pipeline.steps).map((step) => ({
      id: step.id,
      needs: [...step.needs],
      executor: step.executor,
      nodes: step.nodes,
      foreach: step.foreach !== undefined,
      ...(step.uses !== undefined ? { uses: step.uses.ref } : {}),
      conditional: step.if !== undefined
    }))
  }
}

/** The steps reachable through `needs`, directly or not. */
export function ancestorsOf (pipeline: Pick<Pipeline, 'steps'>, needs: readonly string[]): Set<string> {
  const found = new Set<string>()
  const pending = [...needs]
  while (pending.length > 0) {
    const id = pending.pop() as string
    if (found.has(id)) continue
    found.add(id)
    pending.push(...(pipeline.steps[id]?.needs ?? []))
  }
  return found
}
