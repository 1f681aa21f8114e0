import type { ExecutionRecord, RunGraph, StepRecord } from '../index.js'

/** How `bac graph` prints a DAG. */
export type GraphFormat = 'mermaid' | 'dot'

/** What a run says of a step, when the graph is a run's. */
export interface StepState {
  readonly status: string
  /** Instances that ended well, of those that ran (a `foreach` step's n/N). */
  readonly done?: number
  readonly of?: number
  /** The nodes its instances ran on. */
  readonly nodes?: readonly string[]
  readonly cached?: boolean
}

/** Fill and stroke by status (the dashboard uses the same colors). */
const COLORS: Readonly<Record<string, readonly [string, string]>> = {
  succeeded: ['#dcfce7', '#15803d'],
  failed: ['#fee2e2', '#b91c1c'],
  running: ['#dbeafe', '#1d4ed8'],
  cancelled: ['#f3f4f6', '#6b7280'],
  skipped: ['#f9fafb', '#9ca3af'],
  queued: ['#fef9c3', '#a16207'],
  waiting: ['#ffffff', '#9ca3af']
}

/** Each step's state in a run: its record's status, and n/N of its instances from the attempts. */
export function stepStates (steps: readonly StepRecord[], executions: readonly ExecutionRecord[]): Map<string, StepState> {
  const states = new Map<string, StepState>()
  for (const step of steps) {
    const attempts = executions.filter((e) => e.stepId === step.stepId)
    const instances = new Map<string, boolean>()
    for (const e of attempts) {
      const key = String(e.item ?? '-') + (e.node !== '' ? `@${e.node}` : '')
      instances.set(key, instances.get(key) === true || (e.exitCode === 0 && e.outputsCid !== undefined))
    }
    const nodes = [...new Set(attempts.map((e) => e.node))]
    states.set(step.stepId, {
      status: step.status,
      ...(instances.size > 1 ? { done: [...instances.values()].filter(Boolean).length, of: instances.size } : {}),
      ...(nodes.length > 0 ? { nodes } : {}),
      ...(step.cachedFrom !== undefined && Object.keys(step.cachedFrom).length > 0 ? { cached: true } : {})
    })
  }
  return states
}

/** The lines of a step's box: its id, how it runs, and its state in the run. */
function labelLines (step: RunGraph['steps'][number], state: StepState | undefined): string[] {
  const how = [
    step.executor !== 'process' ? step.executor : '',
    step.nodes > 1 ? `nodes: ${step.nodes}` : '',
    step.foreach ? 'foreach' : '',
    step.uses !== undefined ? `uses: ${step.uses}` : '',
    step.conditional ? 'if' : ''
  ].filter((t) => t !== '')
  const lines = [step.id]
  if (how.length > 0) lines.push(how.join(', '))
  if (state !== undefined) {
    const count = state.of !== undefined ? ` ${state.done ?? 0}/${state.of}` : ''
    lines.push(`${state.status}${count}${state.cached === true ? ' (cached)' : ''}`)
  }
  return lines
}

/** Text safe inside a Mermaid quoted label: its own entity codes for what would end or break it. */
function mermaidText (text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/[#"<>&`|{}[\]()]/g, (c) => `#${c.charCodeAt(0)};`)
}

/** Text safe inside a DOT double-quoted string. */
function dotText (text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/[\\"]/g, (c) => `\\${c}`)
}

/**
 * A DAG as Mermaid (a `flowchart LR`, which GitHub renders in a README or a PR comment) or as
 * Graphviz DOT; with a run's states, each box says its status and is colored by it.
 */
export function renderGraph (name: string, graph: RunGraph, format: GraphFormat, states?: ReadonlyMap<string, StepState>): string {
  const ids = new Map(graph.steps.map((s, i) => [s.id, `s${i}`]))
  const status = (id: string): string | undefined => states === undefined ? undefined : (states.get(id)?.status ?? 'waiting')
  if (format === 'dot') {
    const lines = [`digraph "${dotText(name)}" {`, '  rankdir=LR;', '  node [shape=box, style="rounded,filled", fontname="sans-serif", fillcolor="#ffffff"];']
    for (const step of graph.steps) {
      const s = status(step.id)
      const [fill, stroke] = s !== undefined ? (COLORS[s] ?? COLORS.waiting as readonly [string, string]) : ['#ffffff', '#374151']
      lines.push(`  ${ids.get(step.id) ?? ''} [label="${labelLines(step, states?.get(step.id)).map(dotText).join('\\n')}", fillcolor="${fill}", color="${stroke}"];`)
    }
    for (const step of graph.steps) for (const need of step.needs) lines.push(`  ${ids.get(need) ?? ''} -> ${ids.get(step.id) ?? ''};`)
    lines.push('}')
    return `${lines.join('\n')}\n`
  }
  const lines = [`%% ${mermaidText(name)}`, 'flowchart LR']
  for (const step of graph.steps) lines.push(`  ${ids.get(step.id) ?? ''}["${labelLines(step, states?.get(step.id)).map(mermaidText).join('<br/>')}"]`)
  for (const step of graph.steps) for (const need of step.needs) lines.push(`  ${ids.get(need) ?? ''} --> ${ids.get(step.id) ?? ''}`)
  if (states !== undefined) {
    const used = new Set(graph.steps.map((s) => status(s.id) ?? 'waiting'))
    for (const s of used) {
      const [fill, stroke] = COLORS[s] ?? COLORS.waiting as readonly [string, string]
      lines.push(`  classDef ${s} fill:${fill},stroke:${stroke}`)
      lines.push(`  class ${graph.steps.filter((step) => status(step.id) === s).map((step) => ids.get(step.id) ?? '').join(',')} ${s}`)
    }
  }
  return `${lines.join('\n')}\n`
}
