import type { RunEvent, RunOutcome } from '../interfaces/engine.js'
import { NodeStoppingError } from '../interfaces/errors.js'

/** Events of a run kept for those who follow it late; log lines beyond this are not replayed. */
const REPLAY = 10_000

interface Entry {
  readonly controller: AbortController
  readonly events: Array<Readonly<Record<string, unknown>>>
  readonly listeners: Set<(event: Readonly<Record<string, unknown>>) => void>
  ended: boolean
  readonly done: Promise<void>
}

/**
 * The runs a serving node runs for API clients: each can be followed (its events so far, then as
 * they come, up to its end) and cancelled. Triggered runs' events pass through as well.
 */
export class RunBoard {
  private readonly runs = new Map<string, Entry>()

  /** Starts a run in the background, under a signal the API can abort. */
  start (id: string, run: (signal: AbortSignal) => Promise<RunOutcome>): void {
    const controller = new AbortController()
    const entry: Entry = {
      controller,
      events: [],
      listeners: new Set(),
      ended: false,
      done: run(controller.signal).then(() => {}, (err: unknown) => {
        this.event({ type: 'run:end', runId: id, status: 'failed', durationMs: 0, reason: err instanceof Error ? err.message : String(err) })
      }).finally(() => {
        entry.ended = true
        for (const listener of entry.listeners) listener({ type: 'board:closed' })
        // late followers read the end from the run store
        setTimeout(() => this.runs.delete(id), 60_000).unref()
      })
    }
    this.runs.set(id, entry)
  }

  event (event: RunEvent | { readonly type: string, readonly runId?: string }): void {
    const id = (event as { runId?: string }).runId
    const entry = id === undefined ? undefined : this.runs.get(id)
    if (entry === undefined) return
    if (entry.events.length < REPLAY || event.type !== 'step:log') entry.events.push(event as Readonly<Record<string, unknown>>)
    for (const listener of entry.listeners) listener(event as Readonly<Record<string, unknown>>)
  }

  /** Sends a run's events to its end; false when this board does not have the run. */
  async follow (id: string, send: (event: Readonly<Record<string, unknown>>) => void, closed: AbortSignal): Promise<boolean> {
    const entry = this.runs.get(id)
    if (entry === undefined) return false
    for (const event of entry.events) send(event)
    if (entry.events.some((e) => e.type === 'run:end')) return true
    await new Promise<void>((resolve) => {
      const listener = (event: Readonly<Record<string, unknown>>): void => {
        if (event.type !== 'board:closed') send(event)
        if (event.type === 'run:end' || event.type === 'board:closed') finish()
      }
      const finish = (): void => {
        entry.listeners.delete(listener)
        closed.removeEventListener('abort', finish)
        resolve()
      }
      entry.listeners.add(listener)
      closed.addEventListener('abort', finish, { once: true })
      if (entry.ended) finish()
    })
    return true
  }

  /** Cancels a run this board runs; false when it has none running by that id. */
  cancel (id: string): boolean {
    const entry = this.runs.get(id)
    if (entry === undefined || entry.ended) return false
    entry.controller.abort()
    return true
  }

  /** Interrupts the runs still running (they are taken up again at the next start) and waits for them. */
  async stop (): Promise<void> {
    for (const entry of this.runs.values()) if (!entry.ended) entry.controller.abort(new NodeStoppingError())
    await Promise.all([...this.runs.values()].map(async (e) => await e.done))
  }
}
