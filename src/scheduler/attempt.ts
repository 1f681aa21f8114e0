import { existsSync } from 'node:fs'
import path from 'node:path'
import type { ExecutionResult, Executor, LogChunk } from '../interfaces/executor.js'
import type { Envelope } from '../interfaces/provenance.js'
import { triggerFileCid } from './context.js'
import type { InputValue } from './inputs.js'
import { recorded, render, stepsAsSeen, withPlacedSteps, type Instance } from './render.js'
import type { AttemptContext, RunContext } from './run-context.js'
import type { Workspace } from './workspace.js'

/** How an attempt on some node went, as the retry loop sees it. */
export type Tried = { ok: true, node: string, outputsCid: string, cached: boolean } | { ok: false, reason: string, cancelled: boolean, node?: string, lost?: boolean }

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
export async function mountInputs (
  workspace: Workspace,
  inputs: Readonly<Record<string, InputValue>>,
  trigger: Readonly<Record<string, unknown>>,
  signal?: AbortSignal
): Promise<{ mounts: Record<string, string>, cids: Record<string, string> }> {
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

/** One attempt on this node, recorded in the run store. */
export async function localAttempt (ctx: RunContext, instance: Instance, executor: Executor, attempt: number): Promise<Tried> {
  const { step } = instance
  const itemField = instance.index !== undefined ? { item: instance.index } : {}
  const mounted = await mountInputs(ctx.workspace, instance.inputs, ctx.scope.trigger, ctx.signal)
  let executionId = 0
  const outcome = await executeAttempt(ctx, instance, executor, attempt, mounted, {
    onStart: (dirs) => {
      ctx.emit({ type: 'step:start', runId: ctx.runId, stepId: step.id, attempt, executor: executor.kind, node: ctx.nodeId, ...itemField })
      executionId = ctx.components.runs.startExecution({
        runId: ctx.runId,
        stepId: step.id,
        attempt,
        node: ctx.nodeId,
        peer: ctx.components.signer.keyId,
        executor: executor.kind,
        startedAt: Date.now(),
        logDir: dirs.logs,
        ...itemField
      })
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
export function record (
  ctx: RunContext,
  executionId: number,
  outcome: Partial<AttemptOutcome> & { result: ExecutionResult, attestation?: Envelope },
  memo?: { key: string, origin?: { node: string, attestation: Envelope } }
): void {
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
