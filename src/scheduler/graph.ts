import type { Pipeline } from '../interfaces/pipeline.js'

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
