import type { RunEvent, RunOutcome } from '../interfaces/engine.js'
import { NodeStoppingError } from '../interfaces/errors.js'

const RUN_EVENTS = new Set<string>(['run:start', 'step:start', 'step:log', 'step:end', 'run:end'] satisfies Array<RunEvent['type']>)

/** Whether a node's event is one of a run's own (what its followers get). */
export function isRunEvent (event: { readonly type: string }): event is RunEvent {
  return RUN_EVENTS.has(event.type) && typeof (event as { runId?: unknown }).runId === 'string'
}

/** Events of a run kept for those who follow it late; log lines beyond this are not replayed. */
const REPLAY = 10_000

interface Entry {
  /** Absent for a run the board only watches (a triggered run, which its queue runs and cancels). */
  readonly controller?: AbortController
  readonly events: RunEvent[]
  /** Each is called with every event as it comes, and with undefined once the board lets the run go. */
  readonly listeners: Set<(event: RunEvent | undefined) => void>
  ended: boolean
  readonly done: Promise<void>
}

/** Runs the board watches at once at most (one entry per run that has started and not ended a minute ago). */
const MAX_WATCHED = 10_000

/**
 * The runs a serving node runs for API clients: each can be followed (its events so far, then as
 * they come, up to its end) and cancelled. Triggered runs are watched from their first event to
 * their end, so they can be followed too (their queue cancels them).
 */
export class RunBoard {
  private readonly runs = new Map<string, Entry>()
  /** Those waiting for a run to appear on the board (a triggered run still queued). */
  private readonly arrivals = new Map<string, Set<() => void>>()

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
      }).finally(() => { this.close(id, entry) })
    }
    this.add(id, entry)
  }

  /** Takes a node's event: a run's own are kept for its followers; others (a file taken, a schedule fired) are not theirs. */
  event (event: RunEvent | { readonly type: string }): void {
    if (!isRunEvent(event)) return
    const id = event.runId
    let entry = this.runs.get(id)
    // a run the board does not run (a triggered one) is watched from its start
    if (entry === undefined && event.type === 'run:start' && this.runs.size < MAX_WATCHED) {
      entry = { events: [], listeners: new Set(), ended: false, done: Promise.resolve() }
      this.add(id, entry)
    }
    if (entry === undefined || entry.ended) return
    if (entry.events.length < REPLAY || event.type !== 'step:log') entry.events.push(event)
    for (const listener of entry.listeners) listener(event)
    if (event.type === 'run:end' && entry.controller === undefined) this.close(id, entry)
  }

  /**
   * Resolves when a run appears on the board (it starts here), or when `give` says to stop
   * waiting (it was checked every `everyMs`: the run ended elsewhere), or `closed` aborts.
   */
  async arrival (id: string, give: () => boolean, closed: AbortSignal, everyMs = 500): Promise<void> {
    if (this.runs.has(id) || give() || closed.aborted) return
    await new Promise<void>((resolve) => {
      const waiting = this.arrivals.get(id) ?? new Set()
      this.arrivals.set(id, waiting)
      const timer = setInterval(() => { if (give()) finish() }, everyMs)
      const finish = (): void => {
        clearInterval(timer)
        waiting.delete(finish)
        if (waiting.size === 0) this.arrivals.delete(id)
        closed.removeEventListener('abort', finish)
        resolve()
      }
      waiting.add(finish)
      closed.addEventListener('abort', finish, { once: true })
    })
  }

  private add (id: string, entry: Entry): void {
    this.runs.set(id, entry)
    for (const arrived of [...(this.arrivals.get(id) ?? [])]) arrived()
  }

  private close (id: string, entry: Entry): void {
    entry.ended = true
    for (const listener of entry.listeners) listener(undefined)
    // late followers read the end from the run store
    setTimeout(() => { if (this.runs.get(id) === entry) this.runs.delete(id) }, 60_000).unref()
  }

  /** Sends a run's events to its end; false when this board does not have the run. */
  async follow (id: string, send: (event: RunEvent) => void, closed: AbortSignal): Promise<boolean> {
    const entry = this.runs.get(id)
    if (entry === undefined) return false
    for (const event of entry.events) send(event)
    if (entry.events.some((e) => e.type === 'run:end')) return true
    await new Promise<void>((resolve) => {
      const listener = (event: RunEvent | undefined): void => {
        if (event !== undefined) send(event)
        if (event === undefined || event.type === 'run:end') finish()
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
    if (entry?.controller === undefined || entry.ended) return false
    entry.controller.abort()
    return true
  }

  /** Interrupts the runs still running (they are taken up again at the next start) and waits for them; watched runs' followers are let go. */
  async stop (): Promise<void> {
    for (const entry of this.runs.values()) if (!entry.ended) entry.controller?.abort(new NodeStoppingError())
    await Promise.all([...this.runs.values()].map(async (e) => await e.done))
    for (const [id, entry] of this.runs) if (!entry.ended) this.close(id, entry)
  }
}
