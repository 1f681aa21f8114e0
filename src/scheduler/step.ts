import { readdir } from 'node:fs/promises'
import path from 'node:path'
import picomatch from 'picomatch'
import type { StepOutcome } from '../interfaces/engine.js'
import type { StepSpec } from '../interfaces/pipeline.js'
import { isData, stepContext, truthy } from './context.js'
import { resolveData } from './data.js'
import { resolveInputs, type InputValue } from './inputs.js'
import { runInstance, type Instance, type InstanceOutcome } from './instance.js'
import type { RunContext } from './run-context.js'

/** Files under a folder, relative paths, sorted. */
async function files (dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort()
}

/** The context of references to content (`with`, step `inputs`, `foreach`, `if`): content renders as its CID. */
function dataContext (ctx: RunContext, item?: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return stepContext(ctx.scope, { flavor: 'data', inputs: ctx.pipelineInputs, mountPaths: {}, attempt: 1, ...(item !== undefined ? { item } : {}) })
}

/** The values a step's templates read as `inputs`, with its own inputs (or its template's) resolved. */
async function instanceInputs (ctx: RunContext, step: StepSpec, item: Readonly<Record<string, unknown>> | undefined): Promise<Record<string, InputValue>> {
  const context = dataContext(ctx, item)
  const pipelineDir = path.dirname(ctx.pipeline.file)
  const t = ctx.components.templates
  if (step.uses !== undefined) {
    const job = step.uses.template
    const given = Object.fromEntries(Object.entries(step.uses.with).map(([name, value]) => [name, typeof value === 'string' ? t.render(value, context, 'plain') : String(value)]))
    return await resolveInputs(job.inputs, {
      given, cwd: pipelineDir, defaultsDir: path.dirname(job.file), store: ctx.components.store,
      ...(ctx.within !== undefined ? { within: ctx.within } : {}),
      render: (template) => t.render(template, { run: ctx.scope.run }, 'plain'),
      ...(ctx.signal !== undefined ? { signal: ctx.signal } : {})
    })
  }
  const values: Record<string, InputValue> = { ...ctx.pipelineInputs }
  for (const [name, template] of Object.entries(step.inputs)) {
    values[name] = await resolveData(name, t.render(template, context, 'plain'), pipelineDir, ctx.components.store, {
      ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
      ...(ctx.within !== undefined ? { within: ctx.within } : {})
    })
  }
  return values
}

/** The instances of a step: one, or one per `foreach` item. */
async function instances (ctx: RunContext, step: StepSpec): Promise<Instance[]> {
  const foreach = step.foreach
  if (foreach === undefined) return [{ step, inputs: await instanceInputs(ctx, step, undefined) }]
  const t = ctx.components.templates
  const context = dataContext(ctx)
  let items: Array<Record<string, unknown>>
  if (foreach.kind === 'files') {
    const base = await instanceInputs(ctx, step, undefined)
    const source = base[foreach.input]
    if (source === undefined || !isData(source)) throw new Error(`foreach: input '${foreach.input}' holds no content`)
    const root = await ctx.workspace.content(source.cid, ctx.signal)
    const match = picomatch(foreach.glob, { dot: true })
    items = (await files(root)).filter((f) => match(f)).map((f) => ({ value: f, path: path.join(root, f), name: path.basename(f) }))
  } else if (foreach.kind === 'template') {
    const text = t.render(foreach.template, context, 'plain').trim()
    const list: unknown = text.startsWith('[') ? JSON.parse(text) : text.split('\n').filter((l) => l.trim() !== '')
    if (!Array.isArray(list)) throw new Error('foreach must render to a JSON list or one item per line')
    items = list.map((value) => ({ value }))
  } else {
    items = foreach.items.map((value) => ({ value: typeof value === 'string' ? t.render(value, context, 'plain') : value }))
  }
  return await Promise.all(items.map(async (item, index) => {
    const full = { ...item, index }
    return { step, index, item: full, inputs: await instanceInputs(ctx, step, full) }
  }))
}

/** Why a step cannot run here, if it cannot: without a network, only this node's executors count. */
function unrunnable (ctx: RunContext, step: StepSpec): string | undefined {
  if (ctx.components.network !== undefined) return undefined
  if (ctx.components.executors[step.executor] === undefined) return `the ${step.executor} executor is not available on this node`
  if (step.nodes > 1) return `the step asks for ${step.nodes} nodes, and this node runs alone: start a network of nodes (bac serve --peer, or bac devstack) to spread it`
  if (step.runsOn.length > 0) return `the step runs on nodes labelled ${step.runsOn.join(', ')}, and this node runs alone without labels`
  return undefined
}

/**
 * The step's outputs from what each instance did: one CID per node, named `0`, `1`, … in the
 * order of the CIDs (a `foreach` step's node folder holds `<index>/` for each item it ran), and
 * the view later steps read: the nodes' outputs merged, or with `merge: per-node`, a folder of
 * `<k>/`.
 */
async function combine (ctx: RunContext, step: StepSpec, outcomes: InstanceOutcome[]): Promise<{ outputsCid: string, nodes: Record<string, string> }> {
  const store = ctx.components.store
  const options = { signal: ctx.signal }
  const perNode = new Map<string, Record<string, string>>()
  outcomes.forEach((o, i) => {
    for (const [node, cid] of Object.entries(o.nodes ?? { [ctx.nodeId]: o.outputsCid as string })) {
      const entries = perNode.get(node) ?? {}
      entries[String(i)] = cid
      perNode.set(node, entries)
    }
  })
  const byNode: string[] = []
  for (const entries of perNode.values()) byNode.push(step.foreach === undefined ? entries['0'] as string : await store.compose(entries, options))
  // named by their place in the order of their CIDs, never by which node wrote them: the same
  // outputs give the same result whichever nodes ran the step (the run store says which did)
  const nodes = Object.fromEntries(byNode.sort().map((cid, k) => [String(k), cid]))
  if (step.merge === 'per-node' && step.nodes > 1) return { outputsCid: await store.compose(nodes, options), nodes }
  const views = await Promise.all(outcomes.map(async (o) => {
    const cids = [...new Set(Object.values(o.nodes ?? {}))]
    if (cids.length <= 1) return o.outputsCid as string
    try {
      return await store.merge(cids, options)
    } catch (err) {
      if ((err as Error).name !== 'MergeClashError') throw err
      throw new Error(`the outputs of its ${cids.length} nodes clash: ${(err as Error).message}; give the step merge: per-node to keep them apart`)
    }
  }))
  const outputsCid = step.foreach === undefined ? views[0] as string : await store.compose(Object.fromEntries(views.map((cid, i) => [String(i), cid])), options)
  return { outputsCid, nodes }
}

/** Runs a step whose needs are done: decides `if`, fans out `foreach`, runs the instances. */
export async function runStep (ctx: RunContext, step: StepSpec): Promise<StepOutcome> {
  const t = ctx.components.templates
  if (step.if !== undefined) {
    const context = dataContext(ctx)
    if (!truthy(t.render(step.if, context, 'plain'))) return { status: 'skipped', reason: 'its if condition is false' }
  }
  const problem = unrunnable(ctx, step)
  if (problem !== undefined) return { status: 'failed', reason: problem }
  const executor = ctx.components.executors[step.executor]
  const list = await instances(ctx, step)
  const outcomes = await Promise.all(list.map(async (instance) => await runInstance(ctx, instance, executor)))
  const failed = outcomes.find((o) => !o.ok)
  if (failed !== undefined) {
    const which = step.foreach !== undefined ? ` (item ${outcomes.indexOf(failed)})` : ''
    return { status: failed.cancelled === true ? 'cancelled' : 'failed', reason: `${failed.reason ?? 'failed'}${which}` }
  }
  const { outputsCid, nodes } = await combine(ctx, step, outcomes)
  const cachedFrom = Object.fromEntries(outcomes.flatMap((o, i) => o.cachedFrom === undefined ? [] : [[step.foreach === undefined ? '-' : String(list[i]?.index ?? i), o.cachedFrom]]))
  return { status: outcomes.every((o) => o.cached) ? 'cached' : 'succeeded', outputsCid, nodes, ...(Object.keys(cachedFrom).length > 0 ? { cachedFrom } : {}) }
}
