import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import type { PathScope } from '../interfaces/content-store.js'
import type { Engine, RunEvent, RunOptions, RunOutcome, StepOutcome } from '../interfaces/engine.js'
import { InvalidOptionError, NodeStoppingError, RunNotFoundError, RunTakenError } from '../interfaces/errors.js'
import type { Pipeline } from '../interfaces/pipeline.js'
import type { RunRecord, RunStatus } from '../interfaces/run-store.js'
import { inputsView, triggerView, type RunScope } from './context.js'
import { resolveInputs, type InputValue } from './inputs.js'
import type { EngineComponents, RunContext } from './run-context.js'
import { ancestorsOf, graphOf } from './graph.js'
import { Placement } from './placement.js'
import { preflightInputs } from './preflight.js'
import { Semaphore } from './semaphore.js'
import { runSources, writeProvenance, type RunSources } from './provenance.js'
import { runStep } from './step.js'
import { Workspace } from './workspace.js'
import { logger } from '../common/log.js'

const log = logger('scheduler')

export interface EngineInit {
  /** The node's data dir: runs keep their logs in `<dataDir>/runs/<id>/`. */
  dataDir: string
  /** This node's id (in the run store's record of what ran where; never in a result). */
  nodeId: string
  /** bac's version, in each run's provenance record. */
  version: string
  /** Keep a signed provenance record of each run that ends with a result. @default true */
  records?: boolean
  /** This node's labels, for `runs-on`. */
  labels?: Readonly<Record<string, string>>
  /**
   * Real folders every path a run reads as content must lie in (a serving node's allowed
   * folders: its runs come from API callers and messages). Unset: any path (a user's own run).
   */
  within?: PathScope
}

const DONE = new Set(['succeeded', 'cached'])

function summary (pipeline: Pipeline): string {
  if (pipeline.summary !== undefined) return pipeline.summary
  const steps = Object.values(pipeline.steps)
  const only = steps.length === 1 ? steps[0] : undefined
  if (only === undefined || only.uses !== undefined) return pipeline.name
  return only.action.kind === 'run' ? only.action.run : [only.action.command, ...only.action.args].join(' ')
}

/**
 * The scheduler: plans a pipeline's DAG and runs its steps on the executors, as many at once as
 * `concurrency` allows, recording every change in the run store and reporting progress as events.
 */
export function createEngine (components: EngineComponents, init: EngineInit): Engine {
  return {
    prepare (pipeline, queue) {
      return {
        id: randomBytes(6).toString('hex'),
        pipeline: pipeline.name,
        pipelineFile: pipeline.file,
        summary: summary(pipeline),
        data: [],
        trigger: { time: new Date().toISOString(), ...queue.trigger },
        inputs: {},
        graph: graphOf(pipeline),
        request: {
          inputs: queue.inputs ?? {},
          cwd: queue.cwd,
          ...(queue.outputsDir !== undefined ? { outputsDir: queue.outputsDir } : {}),
          ...(queue.concurrency !== undefined ? { concurrency: queue.concurrency } : {}),
          ...(queue.noCache === true ? { noCache: true } : {})
        }
      }
    },
    preflight (pipeline, queue) {
      if (init.within !== undefined) preflightInputs(pipeline, queue, components.templates, init.within)
    },
    async run (pipeline, given = {}) {
      const queued = given.queued === undefined ? undefined : claim(components, given.queued, pipeline)
      // a queued run starts with the options it was queued with
      const options: RunOptions = queued === undefined ? given : { ...given, ...queued.record.request }
      const concurrency = options.concurrency ?? availableParallelism()
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new InvalidOptionError('concurrency', `must be a whole number of at least 1, got ${String(concurrency)}`)
      const emit = (event: RunEvent): void => { options.onEvent?.(event) }
      const cwd = options.cwd ?? process.cwd()
      const previous = queued?.resume === true ? queued.record : (options.resume === undefined ? undefined : resumable(components, options.resume, pipeline))
      const runId = queued?.record.id ?? previous?.id ?? randomBytes(6).toString('hex')
      const trigger = queued?.record.trigger ?? previous?.trigger ?? { kind: 'manual', time: new Date().toISOString(), ...options.trigger }
      // `run.node`: the peer id of the node running the step (a peer renders its own)
      const runInfo = { id: runId, pipeline: pipeline.name, node: components.signer.keyId }
      const t = components.templates
      let inputs: Record<string, InputValue>
      try {
        inputs = previous !== undefined
          ? previous.inputs as Record<string, InputValue>
          : await resolveInputs(pipeline.inputs, {
            given: options.inputs ?? {}, cwd, defaultsDir: path.dirname(pipeline.file), store: components.store,
            ...(init.within !== undefined ? { within: init.within } : {}),
            render: (template) => t.render(template, { trigger: triggerView(trigger, {}, 'data'), run: runInfo }, 'plain'),
            ...(options.signal !== undefined ? { signal: options.signal } : {})
          })
      } catch (err) {
        // a queued run is on record: it ends as failed, with the reason, rather than staying queued
        if (queued === undefined) throw err
        const reason = err instanceof Error ? err.message : String(err)
        const status = options.signal?.reason instanceof NodeStoppingError ? 'interrupted' : (options.signal?.aborted === true ? 'cancelled' : 'failed')
        runEnded(components, emit, { runId, status, reason }, Date.now())
        return { runId, status, reason, steps: {} }
      }
      const data = Object.values(inputs).flatMap((v) => typeof v === 'object' && v !== null ? [v.cid] : [])
      if (queued !== undefined) {
        if (previous === undefined) components.runs.startRun(runId, { inputs, data })
      } else {
        if (previous === undefined) components.runs.createRun({
          id: runId, pipeline: pipeline.name, pipelineFile: pipeline.file, summary: summary(pipeline), data, trigger, inputs, graph: graphOf(pipeline)
        })
        components.runs.startRun(runId)
      }
      const started = Date.now()
      emit({ type: 'run:start', runId, pipeline: pipeline.name, steps: pipeline.order })
      log.debug('run started', { runId, pipeline: pipeline.name, file: pipeline.file, concurrency, resumed: previous !== undefined, trigger: trigger.kind })
      const envContext = { trigger: triggerView(trigger, {}, 'data'), inputs: inputsView(inputs, {}, 'data'), run: runInfo }
      const env = Object.fromEntries(Object.entries(pipeline.env).map(([k, v]) => [k, t.render(v, envContext, 'plain')]))
      const scope: RunScope = { trigger, run: runInfo, env, inputs, steps: {} }
      const workspace = new Workspace(path.join(init.dataDir, 'runs', runId), components.store, Math.min(concurrency, 16) + 1)
      // a resumed run starts from what is stored, never from what a killed attempt left on disk
      await workspace.cleanup()
      const slots = new Semaphore(concurrency)
      const placement = components.network !== undefined ? new Placement(components.network, { nodeId: init.nodeId, labels: init.labels ?? {}, slots }) : undefined
      const ctx: RunContext = {
        components, pipeline, runId, nodeId: init.nodeId, scope, pipelineInputs: inputs, workspace,
        slots, noCache: options.noCache === true, emit,
        ...(init.within !== undefined ? { within: init.within } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
        ...(placement !== undefined ? { placement } : {})
      }
      // what defines the run is read while it runs: the pipeline file, its templates, its git commit
      const sources = init.records === false ? undefined : runSources(ctx, pipeline)
      const outcomes = await runDag(ctx, previous)
      // the work folders go while the result is built: neither reads the other
      // and the reading of its sources has ended too (a stopped run's is not used): nothing of a run outlives it
      const [outcome] = await Promise.all([finish(ctx, outcomes, started, options, cwd, sources, init.version), workspace.cleanup(true), sources?.catch(() => undefined)])
      return outcome
    }
  }
}

/**
 * Takes a queued run (or a triggered run left interrupted) for this process. It is resumed when
 * steps of it ran before, else started from its request.
 */
function claim (components: EngineComponents, id: string, pipeline: Pipeline): { record: RunRecord & { request: NonNullable<RunRecord['request']> }, resume: boolean } {
  const record = components.runs.getRun(id)
  if (record?.request === undefined) throw new RunNotFoundError(id, 'is not a queued run')
  if (path.resolve(record.pipelineFile) !== path.resolve(pipeline.file)) throw new RunNotFoundError(record.id, `was queued for ${record.pipelineFile}, not ${pipeline.file}`)
  if (!components.runs.claimRun(id)) throw new RunTakenError(id, components.runs.getRun(id)?.status ?? 'gone')
  return { record: { ...record, request: record.request }, resume: components.runs.steps(id).length > 0 }
}

/** The run `--resume` continues, checked: it exists, is not running, and is this pipeline's. */
function resumable (components: EngineComponents, id: string, pipeline: Pipeline): RunRecord {
  components.runs.recoverInterrupted()
  const run = components.runs.findRun(id)
  if (run === undefined) throw new RunNotFoundError(id)
  if (run.status === 'running' || run.status === 'queued') throw new RunNotFoundError(run.id, `is ${run.status} in another bac process; wait for it or stop it first`)
  if (run.status === 'succeeded') throw new RunNotFoundError(run.id, 'already succeeded; there is nothing to resume')
  if (path.resolve(run.pipelineFile) !== path.resolve(pipeline.file)) throw new RunNotFoundError(run.id, `ran ${run.pipelineFile}, not ${pipeline.file}`)
  return run
}

/** Runs steps as their needs finish; a step whose need did not succeed is skipped. */
async function runDag (ctx: RunContext, previous: RunRecord | undefined): Promise<Map<string, StepOutcome>> {
  const { pipeline, components, runId } = ctx
  const outcomes = new Map<string, StepOutcome>()
  if (previous !== undefined) {
    for (const step of components.runs.steps(previous.id)) {
      if (DONE.has(step.status) && step.outputsCid !== undefined && pipeline.steps[step.stepId] !== undefined) {
        outcomes.set(step.stepId, { status: step.status, outputsCid: step.outputsCid })
        ctx.scope.steps[step.stepId] = { status: step.status, outputs: outputsView(ctx, step.stepId, step.outputsCid) }
      }
    }
  }
  const running = new Map<string, Promise<void>>()
  for (;;) {
    for (const id of pipeline.order) {
      if (outcomes.has(id) || running.has(id)) continue
      const step = pipeline.steps[id]
      if (step === undefined) continue
      const needs = step.needs.map((n) => outcomes.get(n))
      if (needs.some((n) => n === undefined)) continue
      const blocked = step.needs.find((n) => !DONE.has(outcomes.get(n)?.status ?? ''))
      if (blocked !== undefined || ctx.signal?.aborted === true) {
        const outcome: StepOutcome = ctx.signal?.aborted === true
          ? { status: 'cancelled', reason: 'the run was cancelled' }
          : { status: 'skipped', reason: `needs '${blocked ?? ''}', which ${outcomes.get(blocked ?? '')?.status ?? 'did not run'}` }
        outcomes.set(id, outcome)
        stepEnded(ctx, id, outcome, Date.now())
        continue
      }
      running.set(id, (async () => {
        const started = Date.now()
        components.runs.setStep(runId, id, { status: 'running', startedAt: started })
        let outcome: StepOutcome
        try {
          await placeNeededOutputs(ctx, step.needs)
          outcome = await runStep(ctx, step)
        } catch (err) {
          outcome = { status: ctx.signal?.aborted === true ? 'cancelled' : 'failed', reason: err instanceof Error ? err.message : String(err) }
        }
        outcomes.set(id, outcome)
        if (outcome.outputsCid !== undefined) ctx.scope.steps[id] = { status: outcome.status, outputs: outputsView(ctx, id, outcome.outputsCid) }
        stepEnded(ctx, id, outcome, started)
        running.delete(id)
      })())
    }
    if (running.size === 0) break
    await Promise.race(running.values())
  }
  return outcomes
}

/** A run's end, in the one place it is told: the run store, the debug log and the `run:end` event. */
function runEnded (
  components: EngineComponents,
  emit: (event: RunEvent) => void,
  end: { runId: string, status: Exclude<RunStatus, 'queued' | 'running'>, resultCid?: string, reason?: string, provenanceCid?: string },
  startedAt: number
): void {
  const durationMs = Date.now() - startedAt
  components.runs.finishRun(end.runId, end.status, { ...(end.resultCid !== undefined ? { resultCid: end.resultCid } : {}), ...(end.reason !== undefined ? { reason: end.reason } : {}) })
  log.debug('run ended', { ...end, ms: durationMs })
  emit({ type: 'run:end', ...end, durationMs })
}

/**
 * A step's end, in the one place it is told: the run store's record of it (with where cached
 * outputs came from), the debug log, and the `step:end` event, all from the same outcome.
 */
function stepEnded (ctx: RunContext, stepId: string, outcome: StepOutcome, startedAt: number): void {
  const { runId } = ctx
  const durationMs = Date.now() - startedAt
  const reason = outcome.reason !== undefined ? { reason: outcome.reason } : {}
  const outputs = outcome.outputsCid !== undefined ? { outputsCid: outcome.outputsCid } : {}
  ctx.components.runs.setStep(runId, stepId, { status: outcome.status, endedAt: Date.now(), ...outputs, ...reason, ...(outcome.cachedFrom !== undefined ? { cachedFrom: outcome.cachedFrom } : {}) })
  log.debug('step ended', { runId, step: stepId, status: outcome.status, ms: durationMs, ...reason })
  ctx.emit({ type: 'step:end', runId, stepId, status: outcome.status, durationMs, ...outputs, ...reason })
}

/** Writes out the outputs of the steps a step needs, for `steps.<id>.outputs.path`. */
async function placeNeededOutputs (ctx: RunContext, needs: readonly string[]): Promise<void> {
  for (const need of ancestorsOf(ctx.pipeline, needs)) {
    const view = ctx.scope.steps[need]
    const cid = view?.outputs.cid
    if (view === undefined || cid === undefined || cid === null || view.outputs.path !== null) continue
    ctx.scope.steps[need] = { ...view, outputs: { ...view.outputs, path: await ctx.workspace.content(cid, ctx.signal) } }
  }
}

/** What later steps read as `steps.<id>.outputs`: the CID, declared outputs as `<cid>/<path>`. */
function outputsView (ctx: RunContext, stepId: string, cid: string): Record<string, string | null> {
  const declared = ctx.pipeline.steps[stepId]?.outputs ?? {}
  return { cid, path: null, ...Object.fromEntries(Object.values(declared).map((o) => [o.name, `${cid}/${o.path}`])) }
}

/** Builds the result (`<step>/<k>/` for the step's k-th node and `<step>/merged/`), copies it out, records the end. */
async function finish (
  ctx: RunContext,
  outcomes: Map<string, StepOutcome>,
  started: number,
  options: RunOptions,
  cwd: string,
  sources: Promise<RunSources> | undefined,
  version: string
): Promise<RunOutcome> {
  const { components, runId } = ctx
  const list = [...outcomes.values()]
  const stopping = ctx.signal?.reason instanceof NodeStoppingError ? ctx.signal.reason : undefined
  const status = stopping !== undefined
    ? 'interrupted'
    : ctx.signal?.aborted === true || list.some((o) => o.status === 'cancelled')
      ? 'cancelled'
      : (list.some((o) => o.status === 'failed') ? 'failed' : 'succeeded')
  const failed = [...outcomes].find(([, o]) => o.status === 'failed')
  let reason = stopping?.message ?? (status === 'cancelled' ? 'cancelled' : (failed === undefined ? undefined : `step '${failed[0]}' failed: ${failed[1].reason ?? ''}`))
  let resultCid: string | undefined
  let outputsDir: string | undefined
  let provenanceCid: string | undefined
  let unrecorded: string | undefined
  const entries = Object.fromEntries([...outcomes].flatMap(([id, o]) => {
    if (o.outputsCid === undefined) return []
    const nodes = Object.entries(o.nodes ?? { 0: o.outputsCid }).map(([k, cid]) => [`${id}/${k}`, cid])
    const perNode = ctx.pipeline.steps[id]?.merge === 'per-node' && (ctx.pipeline.steps[id]?.nodes ?? 1) > 1
    return perNode ? nodes : [...nodes, [`${id}/merged`, o.outputsCid]]
  }))
  if (Object.keys(entries).length > 0 && status !== 'cancelled' && status !== 'interrupted') {
    resultCid = await components.store.compose(entries)
    if (options.outputsDir !== null) {
      outputsDir = path.join(options.outputsDir ?? path.join(cwd, 'outputs'), runId)
      await replaceWith(components, resultCid, outputsDir)
    }
    // the record is kept before the run is seen to end: an ended run with a result has one
    const record = components.runs.getRun(runId)
    if (record !== undefined && sources !== undefined) {
      try {
        provenanceCid = await writeProvenance(ctx, {
          record, status, resultCid, outcomes, sources: await sources, version, endedAt: Date.now(), ...(reason !== undefined ? { reason } : {})
        })
      } catch (err) {
        // the run has its result all the same; that it has no record is said, never hidden
        unrecorded = `its provenance record could not be written: ${(err as Error).message}`
      }
    }
  }
  if (unrecorded !== undefined) reason = reason === undefined ? unrecorded : `${reason}; ${unrecorded}`
  runEnded(components, ctx.emit, {
    runId, status, ...(resultCid !== undefined ? { resultCid } : {}), ...(reason !== undefined ? { reason } : {}), ...(provenanceCid !== undefined ? { provenanceCid } : {})
  }, started)
  return {
    runId,
    status,
    steps: Object.fromEntries(outcomes),
    ...(resultCid !== undefined ? { resultCid } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(outputsDir !== undefined ? { outputsDir } : {}),
    ...(provenanceCid !== undefined ? { provenanceCid } : {})
  }
}

/**
 * Writes the result to `target`, replacing what a resumed run's earlier attempt left there: the
 * new copy is complete before the old one is moved aside and removed.
 */
async function replaceWith (components: EngineComponents, cid: string, target: string): Promise<void> {
  if (!existsSync(target)) {
    await components.store.get(cid, target)
    return
  }
  const fresh = `${target}.new-${process.pid}`
  const old = `${target}.old-${process.pid}`
  await components.store.get(cid, fresh)
  await rename(target, old)
  await rename(fresh, target)
  await rm(old, { recursive: true, force: true })
}
