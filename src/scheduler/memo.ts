import type { StepSpec } from '../interfaces/pipeline.js'
import type { CacheSource } from '../interfaces/provenance.js'
import type { RunContext } from './run-context.js'

/** Outputs of the same work this node has (made here, or taken from a peer before), while the store still holds them. */
export async function cachedHere (ctx: RunContext, key: string): Promise<CacheSource | undefined> {
  const cached = ctx.components.runs.cached(key)
  if (cached === undefined || !await ctx.components.store.has(cached.outputsCid)) return undefined
  // outputs another node made keep that node, and its signed attestation, wherever they are reused
  return {
    runId: cached.runId ?? '',
    node: cached.node ?? ctx.components.signer.keyId,
    outputsCid: cached.outputsCid,
    key,
    ...(cached.attestation !== undefined ? { attestation: cached.attestation } : {})
  }
}

/**
 * Outputs of the same work from a trusted peer's cache: the first peer to answer with an
 * attestation it signed for this key. The outputs are fetched here before they count.
 */
export async function sharedCache (ctx: RunContext, step: StepSpec, key: string): Promise<CacheSource | undefined> {
  const network = ctx.components.network
  if (network?.askCache === undefined || ctx.placement === undefined) return undefined
  // only outputs made by a node the step could run on (its executor, image, runs-on) count
  const makers = ctx.placement.peersFor(step).map((p) => p.advert.peerId)
  if (makers.length === 0) return undefined
  const answer = await network.askCache(key, { makers, ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}) })
  if (answer === undefined) return undefined
  try {
    await network.fetch(answer.outputsCid, answer.peer, ctx.signal !== undefined ? { signal: ctx.signal } : {})
  } catch {
    // the peer's outputs could not be had: the step runs
    return undefined
  }
  // under the peer's run and name, with its answer: a later hit here says where they came from
  ctx.components.runs.remember(key, answer.outputsCid, answer.runId, { node: answer.node, attestation: answer.attestation })
  return { runId: answer.runId, node: answer.node, outputsCid: answer.outputsCid, key, attestation: answer.attestation }
}
