import { Channel } from '../common/channel.js'
import type { RunEvent } from '../interfaces/engine.js'
import { UserError } from '../interfaces/errors.js'

/** Events a watcher may leave unread before it is let go (a dashboard that stopped reading). */
const MAX_UNREAD = 2000

/** Every run's events, as they happen, to whoever watches (a dashboard's list): what steps print is not sent. */
export class EventHub {
  private readonly watchers = new Set<Channel<RunEvent>>()

  publish (event: RunEvent): void {
    if (event.type === 'step:log') return
    for (const watcher of this.watchers) {
      if (watcher.buffered >= MAX_UNREAD) {
        watcher.fail(new UserError(`the watcher read none of the last ${MAX_UNREAD} events; watch again`))
        this.watchers.delete(watcher)
        continue
      }
      watcher.push(event)
    }
  }

  /** The events from now on, until `signal` aborts (or the hub is closed). */
  watch (signal?: AbortSignal): AsyncIterable<RunEvent> {
    const watcher = new Channel<RunEvent>()
    this.watchers.add(watcher)
    const leave = (): void => {
      this.watchers.delete(watcher)
      watcher.end()
    }
    if (signal?.aborted === true) leave()
    else signal?.addEventListener('abort', leave, { once: true })
    return watcher
  }

  /** Ends every watch. */
  close (): void {
    for (const watcher of this.watchers) watcher.end()
    this.watchers.clear()
  }
}
