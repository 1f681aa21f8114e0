import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import path from 'node:path'
import type { ExecutionAction, ExecutionResult, Executor } from '../interfaces/executor.js'
import type { StepSpec } from '../interfaces/pipeline.js'
import { inputsView, stepContext, type RunScope } from './context.js'
import type { DataRef } from './data.js'
import type { InputValue } from './inputs.js'
import type { RunContext } from './run-context.js'
import { sleep } from './semaphore.js'

/** One execution of a step: the step itself, or one `foreach` item of it. */
export interface Instance {
  readonly step: StepSpec
  readonly index?: number
  readonly item?: Readonly<Record<string, unknown>>
  /** The values templates read as `inputs`: the pipeline's (or, for `uses`, the template's) and the step's own. */
  readonly inputs: Readonly<Record<string, InputValue>>
}

export interface InstanceOutcome {
  readonly ok: boolean
  readonly cached: boolean
  readonly outputsCid?: string
  readonly reason?: string
}

/** What an attempt runs, rendered for its executor, and the key that memoizes it. */
interface Rendered { action: ExecutionAction, env: Record<string, string>, key: string }

function describeFailure (r: ExecutionResult, timeoutMs: number | undefined): string {
  if (r.error !== undefined) return r.error
  if (r.timedOut) return `timed out after ${String(timeoutMs)} ms`
  if (r.cancelled) return 'cancelled'
  return r.signal !== null ? `killed by ${r.signal}` : `exited with code ${String(r.exitCode)}`
}

/**
 * Runs one instance of a step to its end: mounts its content, renders what it runs for the
 * executor's paths, reuses an identical earlier result unless told not to, and tries up to the
 * step's attempts with backoff. Never throws for the step's own failure.
 */
export async function runInstance (ctx: RunContext, instance: Instance, executor: Executor): Promise<InstanceOutcome> {
  const { step } = instance
  const mounts: Record<string, string> = {}
  const cids: Record<string, string> = {}
  for (const [name, value] of Object.entries(instance.inputs)) {
    if (typeof value === 'object' && value !== null) {
      mounts[name] = await ctx.workspace.content(value.cid, ctx.signal)
      cids[value.cid.split('/')[0] ?? value.cid] = mounts[name]
    }
  }
  const retries = step.retries
  const itemField = instance.index !== undefined ? { item: instance.index } : {}
  let reason = 'not run'
  for (let attempt = 1; attempt <= retries.attempts; attempt++) {
    const dirs = await ctx.workspace.attempt(step.id, instance.index, attempt)
    const layout = executor.layout({ inputs: mounts, outputsDir: dirs.outputs, cids })
    const rendered = render(ctx.scope, instance, layout, attempt, ctx, executor.kind, dirs.base)
    if (attempt === 1 && !ctx.noCache) {
      const cached = ctx.components.runs.cached(rendered.key)
      if (cached !== undefined && await ctx.components.store.has(cached)) return { ok: true, cached: true, outputsCid: cached }
    }
    ctx.emit({ type: 'step:start', runId: ctx.runId, stepId: step.id, attempt, executor: executor.kind, ...itemField })
    const executionId = ctx.components.runs.startExecution({ runId: ctx.runId, stepId: step.id, attempt, node: ctx.nodeId, executor: executor.kind, startedAt: Date.now(), logDir: dirs.logs, ...itemField })
    const result = await executor.execute({
      action: rendered.action,
      env: rendered.env,
      inputs: mounts,
      cids,
      outputsDir: dirs.outputs,
      workDir: dirs.work,
      tmpDir: await ctx.workspace.tmpDir(),
      logsDir: dirs.logs,
      ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}),
      ...(step.writableCids === true ? { writableCids: true } : {})
    }, {
      signal: ctx.signal,
      onLog: (chunk) => ctx.emit({ type: 'step:log', runId: ctx.runId, stepId: step.id, stream: chunk.stream, text: chunk.text, ...itemField })
    })
    let outputsCid: string | undefined
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
    const { runs } = ctx.components
    runs.atomically(() => {
      runs.finishExecution(executionId, {
        ...(result.exitCode !== null ? { exitCode: result.exitCode } : {}),
        ...(result.signal !== null ? { signal: result.signal } : {}),
        ...(outputsCid !== undefined ? { outputsCid } : { error: reason })
      })
      if (outputsCid !== undefined) runs.remember(rendered.key, outputsCid)
    })
    if (outputsCid !== undefined) return { ok: true, cached: false, outputsCid }
    if (ctx.signal?.aborted === true || result.cancelled) return { ok: false, cached: false, reason: 'cancelled' }
    if (attempt < retries.attempts) {
      try {
        await sleep(retries.backoffMs * retries.factor ** (attempt - 1), ctx.signal)
      } catch {
        return { ok: false, cached: false, reason: 'cancelled' }
      }
    }
  }
  return { ok: false, cached: false, reason: retries.attempts > 1 ? `${reason} (after ${retries.attempts} attempts)` : reason }
}

/** Renders the action and env of an attempt, in the step's (or its job template's) context. */
function render (scope: RunScope, instance: Instance, layout: ReturnType<Executor['layout']>, attempt: number, ctx: RunContext, executorKind: string, attemptDir: string): Rendered {
  const { step } = instance
  const outputs = { path: layout.outputs, ...Object.fromEntries(Object.values(step.outputs).map((o) => [o.name, path.posix.join(layout.outputs, o.path)])) }
  const t = ctx.components.templates
  let context: Record<string, unknown>
  const env: Record<string, string> = { ...scope.env }
  if (step.uses !== undefined) {
    const job = step.uses.template
    const jobContext = { inputs: inputsView(instance.inputs, layout.inputs, 'exec'), env: {}, outputs, run: { ...scope.run, attempt } }
    for (const [key, value] of Object.entries(job.env)) env[key] = t.render(value, jobContext, 'plain')
    context = { ...jobContext, env: { ...env } }
    const pipelineContext = stepContext(scope, { flavor: 'exec', inputs: ctx.pipelineInputs, mountPaths: {}, attempt, outputs })
    for (const [key, value] of Object.entries(step.env)) {
      if (job.env[key] !== value) env[key] = t.render(value, pipelineContext, 'plain')
    }
  } else {
    const base = stepContext(scope, { flavor: 'exec', inputs: instance.inputs, mountPaths: layout.inputs, attempt, outputs, ...(instance.item !== undefined ? { item: instance.item } : {}) })
    for (const [key, value] of Object.entries(step.env)) env[key] = t.render(value, base, 'plain')
    context = { ...base, env: { ...env } }
  }
  const action: ExecutionAction = step.action.kind === 'run'
    ? { kind: 'shell', shell: step.action.shell, script: t.render(step.action.run, context, 'shell') }
    : { kind: 'command', command: t.render(step.action.command, context, 'plain'), args: step.action.args.map((a) => t.render(a, context, 'plain')) }
  const contentIds = Object.fromEntries(Object.entries(instance.inputs).filter((e): e is [string, DataRef] => typeof e[1] === 'object' && e[1] !== null).map(([n, v]) => [n, v.cid]).sort())
  const key = createHash('sha256').update(JSON.stringify({
    // folders differ between runs and attempts; what identifies the work is the command with its content
    action: JSON.parse(JSON.stringify(action).replaceAll(attemptDir, '<attempt>').replaceAll(ctx.workspace.root, '<run>')) as unknown,
    env,
    contentIds,
    executor: executorKind,
    image: step.image ?? null,
    outputs: step.outputs
  })).digest('hex')
  return { action, env, key }
}
