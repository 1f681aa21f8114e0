import { createHash } from 'node:crypto'
import path from 'node:path'
import type { ExecutionAction, Executor } from '../interfaces/executor.js'
import type { StepSpec } from '../interfaces/pipeline.js'
import { inputsView, stepContext, triggerFileCid, type RunScope } from './context.js'
import type { DataRef } from './data.js'
import type { InputValue } from './inputs.js'
import type { AttemptContext } from './run-context.js'

/**
 * What an attempt runs, as its executor sees it: the step's templates rendered with the
 * executor's paths, and the memo key that names the work (the same on any node).
 */

/** One execution of a step: the step itself, or one `foreach` item of it. */
export interface Instance {
  readonly step: StepSpec
  readonly index?: number
  readonly item?: Readonly<Record<string, unknown>>
  /** The values templates read as `inputs`: the pipeline's (or, for `uses`, the template's) and the step's own. */
  readonly inputs: Readonly<Record<string, InputValue>>
}

/** What an attempt runs, rendered for its executor, and the key that memoizes it. */
export interface Rendered { action: ExecutionAction, env: Record<string, string>, key: string }

/** The action as a record shows it: the command, with the attempt's folders as `<attempt>` and `<run>`. */
export function recorded (action: ExecutionAction, attemptDir: string, runRoot: string): unknown {
  return JSON.parse(JSON.stringify(action).replaceAll(attemptDir, '<attempt>').replaceAll(runRoot, '<run>')) as unknown
}

/** The memoization key of an instance's first attempt, as its render on any node gives it. */
export async function cacheKey (ctx: AttemptContext, instance: Instance, executor: Executor): Promise<string> {
  const mounts: Record<string, string> = {}
  const cids: Record<string, string> = {}
  for (const [name, value] of Object.entries(instance.inputs)) {
    if (typeof value === 'object' && value !== null) {
      mounts[name] = ctx.workspace.contentPath(value.cid)
      cids[value.cid.split('/')[0] ?? value.cid] = mounts[name]
    }
  }
  const dropped = triggerFileCid(ctx.scope.trigger)
  if (dropped !== undefined) cids[dropped] ??= ctx.workspace.contentPath(dropped)
  const base = path.join(ctx.workspace.root, 'work', 'key')
  const layout = executor.layout({ inputs: mounts, outputsDir: `${base}.out`, cids: withPlacedSteps(ctx.scope, cids) })
  const machine = await executor.identify?.(instance.step.image !== undefined ? { image: instance.step.image } : {})
  return render({ scope: stepsAsSeen(ctx.scope, layout), instance, layout, attempt: 1, ctx, executorKind: executor.kind, attemptDir: base, machine }).key
}

/**
 * The CIDs an attempt mounts: its inputs', and the outputs of earlier steps written out here
 * for `steps.<id>.outputs.path`, so an executor that isolates the step (sandbox, vm) shows
 * them too, at `/ipfs/<cid>`.
 */
export function withPlacedSteps (scope: RunScope, cids: Readonly<Record<string, string>>): Record<string, string> {
  const all = { ...cids }
  for (const view of Object.values(scope.steps)) {
    const { cid, path: placed } = view.outputs
    if (typeof cid === 'string' && typeof placed === 'string') all[cid] ??= placed
  }
  return all
}

/** The run's scope with `steps.<id>.outputs.path` as the step sees it (the executor's path of the CID). */
export function stepsAsSeen (scope: RunScope, layout: ReturnType<Executor['layout']>): RunScope {
  const steps = Object.fromEntries(Object.entries(scope.steps).map(([id, view]) => {
    const { cid, path: placed } = view.outputs
    const seen = typeof cid === 'string' && typeof placed === 'string' ? layout.cids[cid] : undefined
    return [id, seen === undefined || seen === placed ? view : { ...view, outputs: { ...view.outputs, path: seen } }]
  }))
  return { ...scope, steps }
}

/** Renders the action and env of an attempt, in the step's (or its job template's) context. */
export function render (what: {
  scope: RunScope
  instance: Instance
  layout: ReturnType<Executor['layout']>
  attempt: number
  ctx: AttemptContext
  executorKind: string
  attemptDir: string
  machine?: string | undefined
}): Rendered {
  const { scope, instance, layout, attempt, ctx, executorKind, attemptDir, machine } = what
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
    const pipelineContext = stepContext(scope, { flavor: 'exec', inputs: ctx.pipelineInputs, mountPaths: {}, attempt, outputs, cidPaths: layout.cids })
    for (const [key, value] of Object.entries(step.env)) {
      if (job.env[key] !== value) env[key] = t.render(value, pipelineContext, 'plain')
    }
  } else {
    const base = stepContext(scope, {
      flavor: 'exec',
      inputs: instance.inputs,
      mountPaths: layout.inputs,
      attempt,
      outputs,
      cidPaths: layout.cids,
      ...(instance.item !== undefined ? { item: instance.item } : {})
    })
    for (const [key, value] of Object.entries(step.env)) env[key] = t.render(value, base, 'plain')
    context = { ...base, env: { ...env } }
  }
  const action: ExecutionAction = step.action.kind === 'run'
    ? { kind: 'shell', shell: step.action.shell, script: t.render(step.action.run, context, 'shell') }
    : { kind: 'command', command: t.render(step.action.command, context, 'plain'), args: step.action.args.map((a) => t.render(a, context, 'plain')) }
  const contentIds = Object.fromEntries(Object.entries(instance.inputs).filter((e): e is [string, DataRef] => typeof e[1] === 'object' && e[1] !== null).map(([n, v]) => [n, v.cid]).sort())
  // the dropped file's content, whether or not the command names it (a step may read it by env)
  const dropped = triggerFileCid(scope.trigger)
  const key = createHash('sha256').update(JSON.stringify({
    // folders differ between runs and attempts; what identifies the work is the command with its content
    action: recorded(action, attemptDir, ctx.workspace.root),
    env,
    contentIds,
    ...(dropped !== undefined ? { triggerFile: dropped } : {}),
    executor: executorKind,
    image: step.image ?? null,
    ...(machine !== undefined ? { machine } : {}),
    outputs: step.outputs
  })).digest('hex')
  return { action, env, key }
}
