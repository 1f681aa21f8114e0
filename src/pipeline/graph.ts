/**
 * Orders the steps of a DAG so each comes after the steps it needs, or returns a cycle.
 * `needs` holds only edges to existing steps.
 */
export function orderSteps (ids: readonly string[], needs: ReadonlyMap<string, readonly string[]>): { order: string[] } | { cycle: string[] } {
  const state = new Map<string, 'visiting' | 'done'>()
  const order: string[] = []
  const stack: string[] = []

  const visit = (id: string): string[] | undefined => {
    const seen = state.get(id)
    if (seen === 'done') return undefined
    if (seen === 'visiting') return [...stack.slice(stack.indexOf(id)), id]
    state.set(id, 'visiting')
    stack.push(id)
    for (const dep of needs.get(id) ?? []) {
      const cycle = visit(dep)
      if (cycle !== undefined) return cycle
    }
    stack.pop()
    state.set(id, 'done')
    order.push(id)
    return undefined
  }

  for (const id of ids) {
    const cycle = visit(id)
    if (cycle !== undefined) return { cycle }
  }
  return { order }
}

/** Every step a step needs, directly or through other steps. */
export function ancestors (id: string, needs: ReadonlyMap<string, readonly string[]>): Set<string> {
  const found = new Set<string>()
  const pending = [...(needs.get(id) ?? [])]
  while (pending.length > 0) {
    const next = pending.pop()
    if (next === undefined || found.has(next)) continue
    found.add(next)
    pending.push(...(needs.get(next) ?? []))
  }
  return found
}
