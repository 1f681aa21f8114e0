import path from 'node:path'
import { attestedBy } from '../common/dsse.js'
import type { PeerInfo, StepNetwork, StepTask, TaskResult } from '../interfaces/network.js'
import type { Envelope } from '../interfaces/provenance.js'
import { record, type Tried } from './attempt.js'
import { ancestorsOf } from './graph.js'
import { LogSink } from './log-sink.js'
import type { Instance } from './render.js'
import type { RunContext } from './run-context.js'

/**
 * One attempt on a peer: the task goes out with the values its templates read, logs come back
 * as it runs (and are kept in this node's logs folder), and its outputs are pulled here by
 * bitswap before the attempt counts as done.
 */
export async function remoteAttempt (ctx: RunContext, instance: Instance, peer: PeerInfo, attempt: number, memoKey: (() => Promise<string>) | undefined): Promise<Tried> {
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
