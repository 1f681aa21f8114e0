import path from 'node:path'
import type {
  ExecutorKind, Foreach, InputSpec, InputType, JobTemplate, MergeMode, OutputSpec, Pipeline, Resources, RetryPolicy, Scalar, StepAction, StepSpec, Triggers, WatchAfter
} from '../interfaces/pipeline.js'
import { asList, asMap, asString, asStrings, entries, type RawMap } from './raw.js'
import { parseDuration, parseSize } from './units.js'

/** Defaults of the pipeline language; docs/pipeline-language.md lists the same. */
export const DEFAULTS = {
  executor: 'process' as ExecutorKind,
  shell: 'sh',
  nodes: 1,
  merge: 'merged' as MergeMode,
  watchGlob: '*',
  watchAfter: 'keep' as WatchAfter,
  watchStableMs: 300,
  retryBackoffMs: 1000,
  retryFactor: 2,
  foreachGlob: '**/*'
} as const

function scalarMap (raw: unknown): Record<string, string> {
  return Object.fromEntries(entries(raw).map(([k, v]) => [k, String(v)]))
}

function optionalMs (value: unknown): number | undefined {
  return typeof value === 'string' ? parseDuration(value) : undefined
}

function buildInputs (raw: unknown): Record<string, InputSpec> {
  return Object.fromEntries(entries(raw).map(([name, value]) => {
    const spec = asMap(value) ?? {}
    const input: InputSpec = {
      name,
      type: spec.type as InputType,
      required: spec.required === true,
      ...(typeof spec.description === 'string' ? { description: spec.description } : {}),
      ...(spec.default !== undefined ? { default: spec.default as Scalar } : {}),
      ...(typeof spec.pattern === 'string' ? { pattern: spec.pattern } : {}),
      ...(Array.isArray(spec.enum) ? { enum: spec.enum as Array<string | number> } : {})
    }
    return [name, input]
  }))
}

function buildOutputs (raw: unknown): Record<string, OutputSpec> {
  return Object.fromEntries(entries(raw).map(([name, value]) => {
    const spec = asMap(value)
    const output: OutputSpec = spec === undefined
      ? { name, path: String(value) }
      : { name, path: String(spec.path), ...(typeof spec.description === 'string' ? { description: spec.description } : {}) }
    return [name, output]
  }))
}

function buildResources (raw: unknown): Resources | undefined {
  const spec = asMap(raw)
  if (spec === undefined) return undefined
  const memory = spec.memory
  return {
    ...(typeof spec.cpus === 'number' ? { cpus: spec.cpus } : {}),
    ...(typeof memory === 'string' || typeof memory === 'number' ? { memoryBytes: parseSize(memory) } : {}),
    ...(typeof spec.network === 'boolean' ? { network: spec.network } : {})
  }
}

function buildRetries (raw: unknown): RetryPolicy {
  const spec = asMap(raw)
  return {
    attempts: typeof raw === 'number' ? raw : (typeof spec?.attempts === 'number' ? spec.attempts : 1),
    backoffMs: optionalMs(spec?.backoff) ?? DEFAULTS.retryBackoffMs,
    factor: typeof spec?.factor === 'number' ? spec.factor : DEFAULTS.retryFactor
  }
}

function buildAction (raw: RawMap): StepAction {
  if (typeof raw.run === 'string') return { kind: 'run', run: raw.run, shell: asString(raw.shell) ?? DEFAULTS.shell }
  return { kind: 'command', command: String(raw.command), args: asList(raw.args).map(String) }
}

function buildForeach (raw: unknown): Foreach | undefined {
  if (raw === undefined) return undefined
  if (typeof raw === 'string') return { kind: 'template', template: raw }
  const spec = asMap(raw)
  if (spec !== undefined) return { kind: 'files', input: String(spec.files), glob: asString(spec.glob) ?? DEFAULTS.foreachGlob }
  return { kind: 'items', items: asList(raw) as Scalar[] }
}

/** Builds a job template from its validated raw data. */
export function buildJob (raw: RawMap, file: string): JobTemplate {
  const resources = buildResources(raw.resources)
  const timeoutMs = optionalMs(raw.timeout)
  return {
    file,
    name: String(raw.name),
    ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
    inputs: buildInputs(raw.inputs),
    outputs: buildOutputs(raw.outputs),
    env: scalarMap(raw.env),
    action: buildAction(raw),
    ...(typeof raw.executor === 'string' ? { executor: raw.executor as ExecutorKind } : {}),
    ...(typeof raw.image === 'string' ? { image: raw.image } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(resources !== undefined ? { resources } : {})
  }
}

function buildTriggers (raw: unknown, file: string, messageSchema: RawMap | undefined): Triggers {
  const on = asMap(raw)
  const watch = asMap(on?.watch)
  const message = asMap(on?.message)
  const schedule = asMap(on?.schedule)
  return {
    manual: on === undefined || (on.manual !== undefined && on.manual !== false),
    ...(watch !== undefined
      ? {
        watch: {
          path: path.resolve(path.dirname(file), String(watch.path)),
          glob: asString(watch.glob) ?? DEFAULTS.watchGlob,
          ...(typeof watch.input === 'string' ? { input: watch.input } : {}),
          recursive: watch.recursive === true,
          after: (asString(watch.after) ?? DEFAULTS.watchAfter) as WatchAfter,
          stableMs: optionalMs(watch.stable) ?? DEFAULTS.watchStableMs
        }
      }
      : {}),
    ...(message !== undefined ? { message: { topic: String(message.topic), ...(messageSchema !== undefined ? { schema: messageSchema } : {}) } } : {}),
    ...(schedule !== undefined ? { schedule: { cron: String(schedule.cron), ...(typeof schedule.timezone === 'string' ? { timezone: schedule.timezone } : {}) } } : {})
  }
}

function buildStep (id: string, raw: RawMap, job: JobTemplate | undefined): StepSpec {
  const foreach = buildForeach(raw.foreach)
  const resources = buildResources(raw.resources) ?? job?.resources
  const timeoutMs = optionalMs(raw.timeout) ?? job?.timeoutMs
  const image = asString(raw.image) ?? job?.image
  return {
    id,
    needs: asStrings(raw.needs),
    action: job?.action ?? buildAction(raw),
    ...(job !== undefined ? { uses: { ref: String(raw.uses), template: job, with: (asMap(raw.with) ?? {}) as Record<string, Scalar> } } : {}),
    executor: (asString(raw.executor) ?? job?.executor ?? DEFAULTS.executor) as ExecutorKind,
    ...(image !== undefined ? { image } : {}),
    inputs: scalarMap(raw.inputs),
    outputs: { ...job?.outputs, ...buildOutputs(raw.outputs) },
    nodes: typeof raw.nodes === 'number' ? raw.nodes : DEFAULTS.nodes,
    runsOn: asStrings(raw['runs-on']),
    ...(foreach !== undefined ? { foreach } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    retries: buildRetries(raw.retries),
    ...(typeof raw.if === 'string' ? { if: raw.if.includes('{{') ? raw.if : `{{${raw.if}}}` } : {}),
    ...(typeof raw.if === 'boolean' ? { if: String(raw.if) } : {}),
    env: { ...job?.env, ...scalarMap(raw.env) },
    merge: (asString(raw.merge) ?? DEFAULTS.merge) as MergeMode,
    ...(resources !== undefined ? { resources } : {})
  }
}

/** Builds the pipeline model from validated raw data and the job templates its steps use. */
export function buildPipeline (raw: RawMap, file: string, jobs: ReadonlyMap<string, JobTemplate>, order: readonly string[], messageSchema: RawMap | undefined): Pipeline {
  return {
    file,
    name: asString(raw.name) ?? path.basename(file).replace(/\.ya?ml$/, ''),
    ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
    on: buildTriggers(raw.on, file, messageSchema),
    inputs: buildInputs(raw.inputs),
    env: scalarMap(raw.env),
    steps: Object.fromEntries(entries(raw.steps).map(([id, step]) => [id, buildStep(id, asMap(step) ?? {}, jobs.get(id))])),
    order
  }
}
