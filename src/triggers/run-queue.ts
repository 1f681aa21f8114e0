import type { Engine, RunEvent, RunOutcome } from '../interfaces/engine.js'
import { NodeStoppingError, RunTakenError } from '../interfaces/errors.js'
import type { Pipeline } from '../interfaces/pipeline.js'
import type { RunStore } from '../interfaces/run-store.js'

export interface RunQueueInit {
  readonly pipeline: Pipeline
  readonly runs: RunStore
  readonly engine: Engine
  /** Runs of this pipeline at once at most. */
  readonly concurrency: number
  readonly onEvent?: (event: RunEvent) => void
  /** Called when a run has ended (after its end is recorded), e.g. to move its dropped file away. */
  readonly onEnded?: (outcome: RunOutcome) => void | Promise<void>
  /** A run that could not be run at all (the store failed): reported, and recorded as failed. */
  readonly onError?: (runId: string, error: Error) => void
}

/**
 * Starts the queued runs of one pipeline, oldest first, as many at once as its concurrency allows.
 * The queue itself is the run store: triggers record queued runs there (in the same transaction
 * as what they took), so a waiting run costs no memory here and survives a crash; this class only
 * holds the runs it is running. Runs a dead process left interrupted are taken up again.
 */
export class RunQueue {
  private readonly active = new Map<string, { readonly done: Promise<void>, readonly controller: AbortController }>()
  private readonly controller = new AbortController()
  private stopped = false
  private readonly idleWaiters: Array<() => void> = []

  constructor (private readonly init: RunQueueInit) {}

  /** How many runs are running now. */
  get running (): number { return this.active.size }

  /** Looks for waiting runs and starts as many as there are free slots. Cheap; call it freely. */
  wake (): void {
    if (this.stopped) return
    const free = this.init.concurrency - this.active.size
    if (free > 0) {
      for (const record of this.init.runs.waitingRuns(this.init.pipeline.file, free, { interrupted: true })) this.start(record.id)
    }
    if (this.active.size === 0) this.notifyIdle()
  }

  /** Resolves when no run of this pipeline is running or waiting. */
  async idle (): Promise<void> {
    this.wake()
    if (this.active.size === 0) return
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  /**
   * Stops starting runs and interrupts the running ones: they are recorded as interrupted and
   * taken up again by the next node on this data dir.
   */
  async stop (): Promise<void> {
    this.stopped = true
    this.controller.abort(new NodeStoppingError())
    await Promise.all([...this.active.values()].map(async (a) => { await a.done }))
    this.notifyIdle()
  }

  /**
   * Cancels a run of this pipeline: a running one is stopped (its steps killed) and recorded as
   * cancelled; one still waiting (queued, or interrupted by a stop) is recorded as cancelled and
   * never started. Returns false when the run is neither running here nor waiting.
   */
  cancel (id: string): boolean {
    const running = this.active.get(id)
    if (running !== undefined) {
      running.controller.abort()
      return true
    }
    return this.init.runs.cancelWaiting(id, 'cancelled before it started')
  }

  private start (id: string): void {
    const { engine, pipeline, runs } = this.init
    // its own signal, so one run can be cancelled; the queue's stop aborts it with its reason
    const controller = new AbortController()
    const stop = (): void => { controller.abort(this.controller.signal.reason) }
    this.controller.signal.addEventListener('abort', stop, { once: true })
    const run = (async () => {
      try {
        const outcome = await engine.run(pipeline, {
          queued: id,
          signal: controller.signal,
          ...(this.init.onEvent !== undefined ? { onEvent: this.init.onEvent } : {})
        })
        await this.init.onEnded?.(outcome)
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err))
        // taken by another process in the meantime: nothing to do
        if (error instanceof RunTakenError) return
        const record = runs.getRun(id)
        if (record?.status === 'running' || record?.status === 'queued') runs.finishRun(id, 'failed', { reason: error.message })
        this.init.onError?.(id, error)
      } finally {
        this.controller.signal.removeEventListener('abort', stop)
        this.active.delete(id)
        this.wake()
      }
    })()
    this.active.set(id, { done: run, controller })
  }

  private notifyIdle (): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve()
  }
}
