import type { RunEvent } from '../index.js'
import type { Io } from './io.js'

/** How long something took, for people: 850ms, 4.2s, 3m05s. */
export function duration (ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
}

/**
 * Turns step output chunks into whole lines, each prefixed by its step (`extract | `, stderr
 * `extract ! `); a line cut between chunks is held until it is complete.
 */
export class LogLines {
  private readonly partial = new Map<string, string>()

  take (event: Extract<RunEvent, { type: 'step:log' }>): { prefix: string, lines: string[] } {
    const key = `${event.stepId}/${event.item ?? ''}/${event.stream}`
    const lines = ((this.partial.get(key) ?? '') + event.text).split('\n')
    this.partial.set(key, lines.pop() ?? '')
    return { prefix: `${event.stepId}${event.item !== undefined ? `[${event.item}]` : ''} ${event.stream === 'stderr' ? '!' : '|'} `, lines }
  }
}

const STATUS_COLORS: Readonly<Record<string, number>> = { succeeded: 32, cached: 36, skipped: 2, failed: 31, cancelled: 33, interrupted: 33 }

/**
 * Renders run events: NDJSON with `json`; otherwise one line per event, step output prefixed by
 * its step (`extract | …`, stderr with `!`), colored on a terminal.
 */
export function eventRenderer (io: Io, json: boolean): (event: RunEvent) => void {
  const paint = (code: number | undefined, text: string): string => io.colors && code !== undefined ? `\u001b[${code}m${text}\u001b[0m` : text
  const logLines = new LogLines()
  return (event) => {
    if (json) {
      io.out(`${JSON.stringify(event)}\n`)
      return
    }
    switch (event.type) {
      case 'run:start':
        io.err(`run ${event.runId}: ${event.pipeline} (${event.steps.length} step${event.steps.length === 1 ? '' : 's'})\n`)
        break
      case 'step:start':
        io.err(`${paint(1, event.stepId)}${event.item !== undefined ? `[${event.item}]` : ''} ` +
          `started on ${event.node !== undefined ? `${event.node} (${event.executor})` : event.executor}${event.attempt > 1 ? `, attempt ${event.attempt}` : ''}\n`)
        break
      case 'step:log': {
        const { prefix, lines } = logLines.take(event)
        for (const line of lines) io.err(`${paint(2, prefix)}${line}\n`)
        break
      }
      case 'step:end':
        io.err(`${paint(1, event.stepId)} ${paint(STATUS_COLORS[event.status], event.status)}` +
          `${event.durationMs > 0 ? ` in ${duration(event.durationMs)}` : ''}${event.reason !== undefined ? `: ${event.reason}` : ''}\n`)
        break
      case 'run:end':
        io.err(`run ${event.runId} ${paint(STATUS_COLORS[event.status], event.status)} in ${duration(event.durationMs)}${event.reason !== undefined ? `: ${event.reason}` : ''}\n`)
        break
    }
  }
}
