import type { RunEvent } from '../index.js'
import type { Io } from './io.js'
import { duration, LogLines } from './render.js'

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
const MARKS: Readonly<Record<string, string>> = { succeeded: '✓', cached: '✓', skipped: '-', failed: '✗', cancelled: '!', interrupted: '!' }
const COLORS: Readonly<Record<string, number>> = { succeeded: 32, cached: 36, skipped: 2, failed: 31, cancelled: 33, interrupted: 33 }
/** How often running steps' times and spinners are redrawn. */
const TICK_MS = 100

interface StepLine { status: string, started?: number, took?: number, detail?: string }

/**
 * A live view for a terminal: one status line per step, redrawn in place (spinner and elapsed
 * time while it runs, its outcome and duration when done); step output scrolls above it.
 */
export class LiveView {
  private readonly steps = new Map<string, StepLine>()
  private drawn = 0
  private frame = 0
  private timer: NodeJS.Timeout | undefined
  private readonly logLines = new LogLines()

  constructor (private readonly io: Io) {}

  readonly onEvent = (event: RunEvent): void => {
    switch (event.type) {
      case 'run:start':
        this.io.err(`run ${event.runId}: ${event.pipeline}\n`)
        for (const id of event.steps) this.steps.set(id, { status: 'waiting' })
        this.redraw([])
        this.timer = setInterval(() => { this.frame++; this.redraw([]) }, TICK_MS)
        this.timer.unref()
        break
      case 'step:start':
        this.steps.set(event.stepId, {
          status: 'running',
          started: this.steps.get(event.stepId)?.started ?? Date.now(),
          detail: `${event.node !== undefined ? `${event.node}, ` : ''}${event.executor}${event.attempt > 1 ? `, attempt ${event.attempt}` : ''}`
        })
        this.redraw([])
        break
      case 'step:log': {
        const { prefix, lines } = this.logLines.take(event)
        this.redraw(lines.map((line) => `${this.paint(2, prefix)}${line}`))
        break
      }
      case 'step:end':
        this.steps.set(event.stepId, { status: event.status, took: event.durationMs, ...(event.reason !== undefined ? { detail: event.reason } : {}) })
        this.redraw([])
        break
      case 'run:end':
        clearInterval(this.timer)
        this.redraw([])
        this.io.err(`run ${event.runId} ${this.paint(COLORS[event.status], event.status)} in ${duration(event.durationMs)}${event.reason !== undefined ? `: ${event.reason}` : ''}\n`)
        break
    }
  }

  private paint (code: number | undefined, text: string): string {
    return this.io.colors && code !== undefined ? `\u001b[${code}m${text}\u001b[0m` : text
  }

  /** Erases the status block, prints `above`, and draws the block again. */
  private redraw (above: readonly string[]): void {
    const width = Math.max(...[...this.steps.keys()].map((id) => id.length), 4)
    const block = [...this.steps].map(([id, line]) => {
      const running = line.status === 'running'
      const mark = running ? SPINNER[this.frame % SPINNER.length] ?? '*' : (MARKS[line.status] ?? '·')
      const time = running ? duration(Date.now() - (line.started ?? Date.now())) : (line.took !== undefined && line.took > 0 ? duration(line.took) : '')
      const label = running || line.status === 'waiting' ? line.status : this.paint(COLORS[line.status], line.status)
      return `  ${this.paint(COLORS[line.status], mark)} ${id.padEnd(width)}  ${label}${time !== '' ? ` ${time}` : ''}${line.detail !== undefined ? `  ${line.detail}` : ''}`
    })
    const erase = this.drawn > 0 ? `\u001b[${this.drawn}F\u001b[J` : ''
    this.io.err(`${erase}${above.map((l) => `${l}\n`).join('')}${block.map((l) => `${l}\n`).join('')}`)
    this.drawn = block.length
  }
}
