import { CronExpressionParser } from 'cron-parser'
import type { ScheduleTrigger } from '../interfaces/pipeline.js'
import { takeOnce, type TriggerInit } from './take.js'

export type ScheduleEvent =
  | { readonly type: 'schedule:next', readonly pipeline: string, readonly at: string }
  | { readonly type: 'schedule:fired', readonly pipeline: string, readonly at: string, readonly runId: string }

/** `pipeline` is one with `on.schedule`. */
export interface ScheduleInit extends TriggerInit {
  readonly onEvent?: (event: ScheduleEvent) => void
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number
}

/** setTimeout takes at most 2^31 - 1 ms; a later fire is reached in steps. */
const MAX_DELAY = 2 ** 31 - 1

/**
 * A pipeline's cron schedule. Each fire time is taken through the ledger (pipeline, `schedule`,
 * fire time) in the same transaction as its run, so a fire is never run twice, even when the node
 * restarts within the second it fired. Fires missed while no node was running are not made up.
 */
export class Schedule {
  private readonly trigger: ScheduleTrigger
  private timer: NodeJS.Timeout | undefined
  private last = 0
  private readonly now: () => number

  constructor (private readonly init: ScheduleInit) {
    const trigger = init.pipeline.on.schedule
    if (trigger === undefined) throw new Error(`pipeline ${init.pipeline.name} has no on.schedule`)
    this.trigger = trigger
    this.now = init.now ?? Date.now
  }

  /** The pipeline it starts. */
  get pipeline (): ScheduleInit['pipeline'] { return this.init.pipeline }

  start (): void {
    const last = this.init.runs.lastTaken(this.init.pipeline.name, 'schedule')
    this.last = Math.max(this.now(), last === undefined ? 0 : Date.parse(last.key))
    this.arm()
  }

  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** The first fire time after `after` (ms since the epoch). */
  next (after: number): number {
    return CronExpressionParser.parse(this.trigger.cron, { tz: this.trigger.timezone ?? 'UTC', currentDate: new Date(after) }).next().getTime()
  }

  private arm (): void {
    const at = this.next(this.last)
    this.init.onEvent?.({ type: 'schedule:next', pipeline: this.init.pipeline.name, at: new Date(at).toISOString() })
    this.wait(at)
  }

  private wait (at: number): void {
    const delay = at - this.now()
    if (delay > MAX_DELAY) {
      this.timer = setTimeout(() => { this.wait(at) }, MAX_DELAY)
      return
    }
    this.timer = setTimeout(() => { this.fire(at) }, Math.max(0, delay))
  }

  private fire (at: number): void {
    const time = new Date(at).toISOString()
    const { runId, earlier } = takeOnce(this.init, { source: 'schedule', key: time }, { trigger: { kind: 'schedule', time } })
    if (earlier === undefined) this.init.onEvent?.({ type: 'schedule:fired', pipeline: this.init.pipeline.name, at: time, runId })
    this.last = at
    this.arm()
  }
}
