import dagre from '@dagrejs/dagre'
import type { GraphStep } from './types.js'

/** What the graph shows of a step in a run. */
export interface StepView {
  status: string
  /** n/N: instances that ended well, of those that ran. */
  done?: number
  of?: number
  /** The nodes its instances ran on. */
  nodes: string[]
  /** Attempts after the first, with why the one before failed. */
  retries: string[]
  /** The run its outputs came from, when they were reused. */
  cachedFrom?: string
}

const WIDTH = 190
const HEIGHT = 64

/**
 * The run's DAG, laid out left to right by dagre: a box per step colored by its status (with
 * n/N, the nodes, retries and a cache hit), an arrow per `needs`. A box is a button: it selects
 * the step (its logs).
 */
export function Graph (props: { steps: GraphStep[], views: Map<string, StepView>, selected?: string, onSelect: (id: string) => void }): preact.JSX.Element {
  const g = new dagre.graphlib.Graph()
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 48, marginx: 8, marginy: 8 })
  g.setDefaultEdgeLabel(() => ({}))
  for (const step of props.steps) g.setNode(step.id, { width: WIDTH, height: HEIGHT })
  for (const step of props.steps) for (const need of step.needs) g.setEdge(need, step.id)
  dagre.layout(g)
  const { width = 0, height = 0 } = g.graph()
  return (
    <svg class='graph' role='group' aria-label='the run as a graph of its steps' viewBox={`0 0 ${width} ${height}`} width={width} height={height}>
      <defs>
        <marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='8' markerHeight='8' orient='auto-start-reverse'>
          <path d='M 0 0 L 10 5 L 0 10 z' class='arrow' />
        </marker>
      </defs>
      {g.edges().map((e) => {
        const points = g.edge(e).points ?? []
        return <polyline key={`${e.v}->${e.w}`} class='edge' points={points.map((p: { x: number, y: number }) => `${p.x},${p.y}`).join(' ')} marker-end='url(#arrow)' />
      })}
      {props.steps.map((step) => {
        const node = g.node(step.id)
        const view = props.views.get(step.id)
        const status = view?.status ?? 'waiting'
        const count = view?.of !== undefined ? ` ${view.done ?? 0}/${view.of}` : ''
        const extra = [
          step.nodes > 1 ? `nodes ${step.nodes}` : '',
          view !== undefined && view.retries.length > 0 ? `${view.retries.length} retr${view.retries.length === 1 ? 'y' : 'ies'}` : '',
          view?.cachedFrom !== undefined ? 'cached' : ''
        ].filter((t) => t !== '').join(' · ')
        return (
          <g key={step.id} transform={`translate(${node.x - WIDTH / 2},${node.y - HEIGHT / 2})`}
            class={`step ${status}${props.selected === step.id ? ' selected' : ''}`} data-step={step.id} data-status={status}
            role='button' tabIndex={0} aria-label={`step ${step.id}: ${status}${count}`}
            onClick={() => { props.onSelect(step.id) }}
            onKeyDown={(e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); props.onSelect(step.id) } }}>
            <rect width={WIDTH} height={HEIGHT} rx='8' />
            <text x='10' y='20' class='name'>{step.id}{step.foreach ? ' ⑂' : ''}</text>
            <text x='10' y='38' class='status'>{status}{count}</text>
            <text x='10' y='54' class='extra'>{extra}</text>
            <title>{[`${step.id}: ${status}${count}`, view !== undefined && view.nodes.length > 0 ? `on ${view.nodes.join(', ')}` : '', ...(view?.retries ?? []),
              view?.cachedFrom !== undefined ? `outputs from run ${view.cachedFrom}` : ''].filter((t) => t !== '').join('\n')}</title>
          </g>
        )
      })}
    </svg>
  )
}
