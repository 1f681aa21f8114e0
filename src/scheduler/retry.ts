import { logger } from '../common/log.js'
import type { Tried } from './attempt.js'
import type { Instance } from './render.js'
import type { RunContext } from './run-context.js'
import { sleep } from './semaphore.js'

const log = logger('scheduler')

/** Nodes lost or refusing while one instance ran, at most: then it fails. */
const MAX_NODE_FAILURES = 8

/**
 * Tries an instance up to its attempts. `used` holds the nodes (peer ids, or this node's id) the
 * step's other slots hold; a node that failed this slot is not used for it again.
 */
export async function retrying (ctx: RunContext, instance: Instance, used: Set<string>, tryOn: (attempt: number, failedNodes: ReadonlySet<string>) => Promise<Tried>): Promise<Tried> {
  const retries = instance.step.retries
  const failedNodes = new Set<string>()
  let nodeFailures = 0
  let lostReason: string | undefined
  let last: Tried = { ok: false, cancelled: false, reason: 'not run' }
  for (let attempt = 1; attempt <= retries.attempts;) {
    const tried = await tryOn(attempt, failedNodes)
    if (tried.ok) return tried
    last = tried
    if (tried.cancelled || ctx.signal?.aborted === true) return { ok: false, cancelled: true, reason: 'cancelled' }
    if (tried.node !== undefined) used.delete(tried.node)
    if (tried.lost === true) {
      lostReason = tried.reason
      // the node failed, not the step: another node takes the same attempt
      failedNodes.add(tried.node ?? '')
      if (++nodeFailures > MAX_NODE_FAILURES) break
      ctx.emit({
        type: 'step:log',
        runId: ctx.runId,
        stepId: instance.step.id,
        stream: 'stderr',
        text: `bac: ${tried.reason}; the step goes to another node\n`,
        ...(instance.index !== undefined ? { item: instance.index } : {})
      })
      continue
    }
    if (tried.node === undefined) break
    log.debug('attempt failed', { runId: ctx.runId, step: instance.step.id, attempt, reason: tried.reason, retriesLeft: retries.attempts - attempt })
    attempt++
    if (attempt <= retries.attempts) {
      try {
        await sleep(retries.backoffMs * retries.factor ** (attempt - 2), ctx.signal)
      } catch {
        return { ok: false, cancelled: true, reason: 'cancelled' }
      }
    }
  }
  let reason = last.ok ? '' : last.reason
  // no node was left: say what became of the last one tried
  if (!last.ok && last.node === undefined && lostReason !== undefined) reason = `${lostReason}; then ${reason}`
  return { ok: false, cancelled: false, reason: retries.attempts > 1 && !last.ok && last.node !== undefined ? `${reason} (after ${retries.attempts} attempts)` : reason }
}
