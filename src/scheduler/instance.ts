import { existsSync } from 'node:fs'
import path from 'node:path'
import type { ExecutionResult, Executor, LogChunk } from '../interfaces/executor.js'
import type { PeerInfo, StepNetwork, StepTask, TaskResult } from '../interfaces/network.js'
import type { CacheSource, Envelope } from '../interfaces/provenance.js'
import { attestedBy } from '../common/dsse.js'
import type { StepSpec } from '../interfaces/pipeline.js'
import { triggerFileCid } from './context.js'
import { cacheKey, recorded, render, stepsAsSeen, withPlacedSteps, type Instance } from './render.js'
import { ancestorsOf } from './graph.js'
import type { InputValue } from './inputs.js'
import { LogSink } from './log-sink.js'
import type { Placement } from './placement.js'
import type { AttemptContext, RunContext } from './run-context.js'
import { sleep } from './semaphore.js'
import type { Workspace } from './workspace.js'
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

function describeFailure (r: ExecutionResult, timeoutMs: number | undefined): string {
  if (r.error !== undefined) return r.error
  if (r.timedOut) return `timed out after ${String(timeoutMs)} ms`
  if (r.cancelled) return 'cancelled'
  return r.signal !== null ? `killed by ${r.signal}` : `exited with code ${String(r.exitCode)}`
}

/** What one attempt did: how it ended, and its stored outputs when it succeeded. */
export interface AttemptOutcome {
  readonly result: ExecutionResult
  readonly outputsCid?: string
  readonly reason?: string
  readonly key: string
  /** The command as it ran, its folders written `<attempt>` and `<run>`. */
  readonly command: unknown
  /** Image and kernel digests, from executors that have them. */
  readonly machine?: string
  readonly startedAt: number
  readonly endedAt: number
}

/**
 * The content an instance reads, written out in the workspace: input name to path, CID to path.
 * The file a drop folder took for the run is content too (`trigger.file.path`), mounted by its CID.
 */
export async function mountInputs (workspace: Workspace, inputs: Readonly<Record<string, InputValue>>, trigger: Readonly<Record<string, unknown>>, signal?: AbortSignal): Promise<{ mounts: Record<string, string>, cids: Record<string, string> }> {
  const mounts: Record<string, string> = {}
  const cids: Record<string, string> = {}
  await Promise.all(Object.entries(inputs).map(async ([name, value]) => {
    if (typeof value === 'object' && value !== null) {
      mounts[name] = await workspace.content(value.cid, signal)
      cids[value.cid.split('/')[0] ?? value.cid] = mounts[name]
    }
  }))
  const dropped = triggerFileCid(trigger)
  if (dropped !== undefined) cids[dropped] ??= await workspace.content(dropped, signal)
  return { mounts, cids }
}

/**
 * Runs one attempt on this node's executor: renders it for the executor's paths, runs it, and
 * stores its outputs. The same code runs a local attempt and a task a peer sent.
 */
export async function executeAttempt (ctx: AttemptContext, instance: Instance, executor: Executor, attempt: number, mounted: { mounts: Record<string, string>, cids: Record<string, string> }, hooks: {
  onStart?: (dirs: { logs: string }) => void
  onLog?: (chunk: LogChunk) => void
} = {}): Promise<AttemptOutcome> {
  const { step } = instance
  const dirs = await ctx.workspace.attempt(step.id, instance.index, attempt)
  const cids = withPlacedSteps(ctx.scope, mounted.cids)
  const layout = executor.layout({ inputs: mounted.mounts, outputsDir: dirs.outputs, cids })
  const machine = await executor.identify?.(step.image !== undefined ? { image: step.image } : {})
  const rendered = render({ scope: stepsAsSeen(ctx.scope, layout), instance, layout, attempt, ctx, executorKind: executor.kind, attemptDir: dirs.base, machine })
  hooks.onStart?.(dirs)
  const startedAt = Date.now()
  const result = await executor.execute({
    action: rendered.action,
    env: rendered.env,
    inputs: mounted.mounts,
    cids,
    outputsDir: dirs.outputs,
    workDir: dirs.work,
    tmpDir: await ctx.workspace.tmpDir(),
    logsDir: dirs.logs,
    ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}),
    ...(step.writableCids === true ? { writableCids: true } : {}),
    ...(step.image !== undefined ? { image: step.image } : {}),
    ...(step.resources !== undefined ? { resources: step.resources } : {})
  }, {
    ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
    ...(hooks.onLog !== undefined ? { onLog: hooks.onLog } : {})
  })
  let outputsCid: string | undefined
  let reason: string | undefined
  const succeeded = result.exitCode === 0 && result.error === undefined && !result.timedOut && !result.cancelled
  if (succeeded) {
    const missing = Object.values(step.outputs).filter((o) => !existsSync(path.join(dirs.outputs, o.path)))
    if (missing.length > 0) reason = `declared output ${missing.map((o) => `'${o.name}' (${o.path})`).join(', ')} was not written`
    else outputsCid = await ctx.components.store.addPath(dirs.outputs, { signal: ctx.signal })
  } else {
    reason = describeFailure(result, step.timeoutMs)
  }
  // in the background: the next attempt that finds it ready takes it
  void ctx.workspace.recycle(dirs)
  return {
    result, key: rendered.key, command: recorded(rendered.action, dirs.base, ctx.workspace.root), startedAt, endedAt: Date.now(),
    ...(machine !== undefined ? { machine } : {}), ...(outputsCid !== undefined ? { outputsCid } : {}), ...(reason !== undefined ? { reason } : {})
  }
}

/** How an attempt on some node went, as the retry loop sees it. */
type Tried = { ok: true, node: string, outputsCid: string, cached: boolean } | { ok: false, reason: string, cancelled: boolean, node?: string, lost?: boolean }

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
    const cached = ctx.components.runs.cached(key)
    if (cached !== undefined && await ctx.components.store.has(cached.outputsCid)) {
      // outputs another node made keep that node, and its signed attestation, wherever they are reused
      const from: CacheSource = {
        runId: cached.runId ?? '', node: cached.node ?? ctx.components.signer.keyId, outputsCid: cached.outputsCid, key,
        ...(cached.attestation !== undefined ? { attestation: cached.attestation } : {})
      }
      log.debug('cached here', { runId: ctx.runId, step: step.id, ...(instance.index !== undefined ? { item: instance.index } : {}), key, from: from.runId, node: from.node })
      return { ok: true, cached: true, cachedFrom: from, outputsCid: cached.outputsCid, nodes: { [ctx.nodeId]: cached.outputsCid } }
    }
    const shared = await sharedCache(ctx, step, key)
    if (shared !== undefined) log.debug('cached on a peer', { runId: ctx.runId, step: step.id, ...(instance.index !== undefined ? { item: instance.index } : {}), key, from: shared.runId, node: shared.node })
    if (shared !== undefined) return { ok: true, cached: true, cachedFrom: shared, outputsCid: shared.outputsCid, nodes: { [ctx.nodeId]: shared.outputsCid } }
  }
  if (network === undefined || ctx.placement === undefined) {
    if (executor === undefined) return { ok: false, cached: false, reason: `the ${step.executor} executor is not available on this node` }
    const tried = await retrying(ctx, instance, new Set(), async (attempt) => await ctx.slots.use(async () => await localAttempt(ctx, instance, executor, attempt)))
    return tried.ok ? { ok: true, cached: tried.cached, outputsCid: tried.outputsCid, nodes: { [tried.node]: tried.outputsCid } } : { ok: false, cached: false, cancelled: tried.cancelled, reason: tried.cancelled ? 'cancelled' : tried.reason }
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

/** Nodes lost or refusing while one instance ran, at most: then it fails. */
const MAX_NODE_FAILURES = 8

/**
 * Tries an instance up to its attempts. `used` holds the nodes (peer ids, or this node's id) the
 * step's other slots hold; a node that failed this slot is not used for it again.
 */
async function retrying (ctx: RunContext, instance: Instance, used: Set<string>, tryOn: (attempt: number, failedNodes: ReadonlySet<string>) => Promise<Tried>): Promise<Tried> {
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
      ctx.emit({ type: 'step:log', runId: ctx.runId, stepId: instance.step.id, stream: 'stderr', text: `bac: ${tried.reason}; the step goes to another node\n`, ...(instance.index !== undefined ? { item: instance.index } : {}) })
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

/** One attempt on this node, recorded in the run store. */
async function localAttempt (ctx: RunContext, instance: Instance, executor: Executor, attempt: number): Promise<Tried> {
  const { step } = instance
  const itemField = instance.index !== undefined ? { item: instance.index } : {}
  const mounted = await mountInputs(ctx.workspace, instance.inputs, ctx.scope.trigger, ctx.signal)
  let executionId = 0
  const outcome = await executeAttempt(ctx, instance, executor, attempt, mounted, {
    onStart: (dirs) => {
      ctx.emit({ type: 'step:start', runId: ctx.runId, stepId: step.id, attempt, executor: executor.kind, node: ctx.nodeId, ...itemField })
      executionId = ctx.components.runs.startExecution({ runId: ctx.runId, stepId: step.id, attempt, node: ctx.nodeId, peer: ctx.components.signer.keyId, executor: executor.kind, startedAt: Date.now(), logDir: dirs.logs, ...itemField })
    },
    onLog: (chunk) => ctx.emit({ type: 'step:log', runId: ctx.runId, stepId: step.id, stream: chunk.stream, text: chunk.text, ...itemField })
  })
  record(ctx, executionId, outcome, { key: outcome.key })
  if (outcome.outputsCid !== undefined) return { ok: true, node: ctx.nodeId, outputsCid: outcome.outputsCid, cached: false }
  return { ok: false, node: ctx.nodeId, cancelled: ctx.signal?.aborted === true || outcome.result.cancelled, reason: outcome.reason ?? 'failed' }
}

/**
 * Records how an attempt ended, and remembers its outputs under `memo` (the memo key this node
 * computed, and for another node's outputs that node with its attestation).
 */
function record (ctx: RunContext, executionId: number, outcome: Partial<AttemptOutcome> & { result: ExecutionResult, attestation?: Envelope }, memo?: { key: string, origin?: { node: string, attestation: Envelope } }): void {
  const { runs } = ctx.components
  const { result, outputsCid, reason, key } = outcome
  runs.atomically(() => {
    runs.finishExecution(executionId, {
      ...(result.exitCode !== null ? { exitCode: result.exitCode } : {}),
      ...(result.signal !== null ? { signal: result.signal } : {}),
      ...(outputsCid !== undefined ? { outputsCid } : { error: reason ?? 'failed' }),
      ...(outcome.command !== undefined ? { command: outcome.command } : {}),
      ...(outcome.machine !== undefined ? { machine: outcome.machine } : {}),
      ...(key !== undefined ? { cacheKey: key } : {}),
      ...(outcome.attestation !== undefined ? { attestation: outcome.attestation } : {})
    })
    if (outputsCid !== undefined && memo !== undefined) runs.remember(memo.key, outputsCid, ctx.runId, memo.origin)
  })
}

/**
 * Outputs of the same work from a trusted peer's cache: the first peer to answer with an
 * attestation it signed for this key. The outputs are fetched here before they count.
 */
async function sharedCache (ctx: RunContext, step: StepSpec, key: string): Promise<CacheSource | undefined> {
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

/**
 * One attempt on a peer: the task goes out with the values its templates read, logs come back
 * as it runs (and are kept in this node's logs folder), and its outputs are pulled here by
 * bitswap before the attempt counts as done.
 */
async function remoteAttempt (ctx: RunContext, instance: Instance, peer: PeerInfo, attempt: number, memoKey: (() => Promise<string>) | undefined): Promise<Tried> {
  const { step } = instance
  const network = ctx.components.network as StepNetwork
  const node = peer.advert.nodeId
  const peerId = peer.advert.peerId
  const itemField = instance.index !== undefined ? { item: instance.index } : {}
  const dirs = await ctx.workspace.attempt(step.id, instance.index, attempt)
  const logs = new LogSink(path.join(path.dirname(dirs.logs), `${path.basename(dirs.logs)}@${node}`))
  let executionId: number | undefined
  const start = (): void => {
    if (executionId !== undefined) return
    ctx.emit({ type: 'step:start', runId: ctx.runId, stepId: step.id, attempt, executor: step.executor, node, ...itemField })
    executionId = ctx.components.runs.startExecution({ runId: ctx.runId, stepId: step.id, attempt, node, peer: peerId, executor: step.executor, startedAt: Date.now(), logDir: logs.dir, ...itemField })
  }
  void ctx.workspace.recycle(dirs)
  const task: StepTask = {
    run: ctx.scope.run,
    step,
    attempt,
    ...(instance.index !== undefined ? { index: instance.index } : {}),
    ...(instance.item !== undefined ? { item: instance.item } : {}),
    inputs: instance.inputs,
    pipelineInputs: ctx.pipelineInputs,
    trigger: ctx.scope.trigger,
    env: ctx.scope.env,
    steps: ctx.scope.steps,
    place: [...ancestorsOf(ctx.pipeline, step.needs)]
  }
  try {
    const outcome = await network.dispatch(peerId, task, {
      ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
      onStart: start,
      onLog: (chunk) => {
        logs.write(chunk)
        ctx.emit({ type: 'step:log', runId: ctx.runId, stepId: step.id, stream: chunk.stream, text: chunk.text, ...itemField })
      }
    })
    start()
    let reason = outcome.reason
    if (outcome.outputsCid !== undefined) {
      try {
        await network.fetch(outcome.outputsCid, peerId, ctx.signal !== undefined ? { signal: ctx.signal } : {})
      } catch (err) {
        if (ctx.signal?.aborted === true) throw err
        // the outputs are gone with the node: the attempt is lost, not failed
        await logs.close()
        record(ctx, executionId as number, { result: outcome.result, reason: `its outputs could not be fetched: ${(err as Error).message}` })
        return { ok: false, cancelled: false, lost: true, node: peerId, reason: `node ${node} (${peerId}) ran the step, but its outputs could not be fetched: ${(err as Error).message}` }
      }
    }
    await logs.close()
    const { attestation: claimed, ...ended } = outcome
    const attestation = await attested(claimed, outcome, peerId, ctx.runId)
    // remembered only when the peer signed what it made, under the key this node computes (never
    // the peer's word for it); without a local executor of the kind, the key cannot be made here
    const key = attestation !== undefined && memoKey !== undefined ? await memoKey() : undefined
    record(ctx, executionId as number, { ...ended, ...(reason !== undefined ? { reason } : {}), ...(attestation !== undefined ? { attestation } : {}) },
      key !== undefined && attestation !== undefined ? { key, origin: { node: peerId, attestation } } : undefined)
    if (outcome.outputsCid !== undefined) return { ok: true, node, outputsCid: outcome.outputsCid, cached: false }
    reason = `${reason ?? 'failed'} (on node ${node})`
    return { ok: false, node: peerId, cancelled: ctx.signal?.aborted === true || outcome.result.cancelled, reason }
  } catch (err) {
    await logs.close()
    const name = (err as Error).name
    if (executionId !== undefined) ctx.components.runs.finishExecution(executionId, { error: (err as Error).message })
    if (ctx.signal?.aborted === true) return { ok: false, cancelled: true, reason: 'cancelled' }
    if (name === 'NodeLostError' || name === 'DispatchRefusedError') return { ok: false, cancelled: false, lost: true, node: peerId, reason: (err as Error).message }
    throw err
  }
}

/**
 * A peer's attestation of the attempt it ran, kept when it is what it claims: signed by that
 * peer, for this run, with the outputs it reported. Anything else is dropped (the record then
 * shows the attempt unattested, and bac verify says so).
 */
async function attested (envelope: Envelope | undefined, outcome: TaskResult, peerId: string, runId: string): Promise<Envelope | undefined> {
  if (envelope === undefined || outcome.outputsCid === undefined) return undefined
  return await attestedBy(envelope, { node: peerId, outputsCid: outcome.outputsCid, run: runId })
}
