import type { Executor } from '../interfaces/executor.js'
import type { CacheSource } from '../interfaces/provenance.js'
import { localAttempt } from './attempt.js'
import { cachedHere, sharedCache } from './memo.js'
import type { Placement } from './placement.js'
import { remoteAttempt } from './remote-attempt.js'
import { cacheKey, type Instance } from './render.js'
import { retrying } from './retry.js'
import type { RunContext } from './run-context.js'
import { logger } from '../common/log.js'

const log = logger('scheduler')

export type { Instance } from './render.js'

export interface InstanceOutcome {
  readonly ok: boolean
  readonly cached: boolean
  /** It did not end by itself: the run was cancelled (or its node is stopping). */
  readonly cancelled?: boolean
  /** Where cached outputs came from: an earlier run here, or a trusted peer's cache. */
  readonly cachedFrom?: CacheSource
  readonly outputsCid?: string
  readonly reason?: string
  /** Node id to outputs CID, for each node that ran it. */
  readonly nodes?: Readonly<Record<string, string>>
}

/**
 * Runs one instance of a step to its end, on one node (`nodes: 1`) or on each of `nodes`
 * distinct nodes: reuses an identical earlier result unless told not to, and tries up to the
 * step's attempts with backoff. A node lost or refusing is left for another and costs no attempt.
 * Never throws for the step's own failure.
 */
export async function runInstance (ctx: RunContext, instance: Instance, executor: Executor | undefined): Promise<InstanceOutcome> {
  const { step } = instance
  const network = ctx.components.network
  // the instance's memo key, made once when first needed: to look it up, or to remember a peer's outputs under it
  let made: Promise<string> | undefined
  const memoKey = step.nodes === 1 && executor !== undefined ? async (): Promise<string> => await (made ??= cacheKey(ctx, instance, executor)) : undefined
  if (!ctx.noCache && memoKey !== undefined) {
    const key = await memoKey()
    const from = await cachedHere(ctx, key)
    if (from !== undefined) {
      log.debug('cached here', { runId: ctx.runId, step: step.id, ...(instance.index !== undefined ? { item: instance.index } : {}), key, from: from.runId, node: from.node })
      return { ok: true, cached: true, cachedFrom: from, outputsCid: from.outputsCid, nodes: { [ctx.nodeId]: from.outputsCid } }
    }
    const shared = await sharedCache(ctx, step, key)
    if (shared !== undefined) {
      log.debug('cached on a peer', {
        runId: ctx.runId,
        step: step.id,
        ...(instance.index !== undefined ? { item: instance.index } : {}),
        key,
        from: shared.runId,
        node: shared.node
      })
    }
    if (shared !== undefined) return { ok: true, cached: true, cachedFrom: shared, outputsCid: shared.outputsCid, nodes: { [ctx.nodeId]: shared.outputsCid } }
  }
  if (network === undefined || ctx.placement === undefined) {
    if (executor === undefined) return { ok: false, cached: false, reason: `the ${step.executor} executor is not available on this node` }
    const tried = await retrying(ctx, instance, new Set(), async (attempt) => await ctx.slots.use(async () => await localAttempt(ctx, instance, executor, attempt)))
    return tried.ok
      ? { ok: true, cached: tried.cached, outputsCid: tried.outputsCid, nodes: { [tried.node]: tried.outputsCid } }
      : { ok: false, cached: false, cancelled: tried.cancelled, reason: tried.cancelled ? 'cancelled' : tried.reason }
  }
  // each of the step's nodes runs it once; a node that fails is replaced by one not used yet
  const used = new Set<string>()
  const results = await Promise.all(Array.from({ length: step.nodes }, async () => await retrying(ctx, instance, used, async (attempt, failedNodes) => {
    const placement = ctx.placement as Placement
    // the pick reserves its node in `used` at once, so the step's other nodes take others
    const place = await placement.pick(step, used, failedNodes, executor !== undefined, ctx.signal)
    log.debug('placed', { runId: ctx.runId, step: step.id, attempt, on: place === undefined ? 'nowhere' : (place.kind === 'local' ? 'here' : place.peer.advert.peerId) })
    if (place === undefined) return { ok: false, cancelled: ctx.signal?.aborted === true, reason: placement.whyNone(step, new Set([...used, ...failedNodes]), executor !== undefined) }
    try {
      if (place.kind === 'local') return await ctx.slots.use(async () => await localAttempt(ctx, instance, executor as Executor, attempt))
      return await remoteAttempt(ctx, instance, place.peer, attempt, memoKey)
    } finally {
      placement.done(place)
    }
  })))
  const failed = results.find((r) => !r.ok)
  if (failed !== undefined && !failed.ok) return { ok: false, cached: false, cancelled: failed.cancelled, reason: failed.cancelled ? 'cancelled' : failed.reason }
  const nodes = Object.fromEntries(results.map((r) => r.ok ? [r.node, r.outputsCid] : []))
  const first = results[0]
  return { ok: true, cached: results.every((r) => r.ok && r.cached), outputsCid: first?.ok === true ? first.outputsCid : '', nodes }
}
