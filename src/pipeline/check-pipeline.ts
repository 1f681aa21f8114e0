import path from 'node:path'
import type { InputType } from '../interfaces/pipeline.js'
import type { Problem } from '../interfaces/problem.js'
import type { TemplateEngine } from '../interfaces/template.js'
import { checkBody } from './check-body.js'
import { checkDataRef } from './check-data.js'
import { checkCommandInjection } from './check-injection.js'
import { checkInputs, inputTypes } from './check-inputs.js'
import { checkCondition, checkTemplate } from './check-templates.js'
import { checkGlob, checkTriggers } from './check-triggers.js'
import { checkWithConstraints } from './constraints.js'
import type { ValidatorFiles } from './files.js'
import type { Findings } from './findings.js'
import { ancestors, orderSteps } from './graph.js'
import type { NameScope } from './names.js'
import { asList, asMap, asString, asStrings, entries, type RawMap } from './raw.js'
import { didYouMean, listNames } from './suggest.js'
import { envOf, inputsOf, withMounts, type TaintScope } from './taint.js'

/**
 * A job template as the pipeline checker needs it: its raw data once it parsed, its problems, or
 * why the reader would not read it.
 */
export interface LoadedJob { readonly raw?: RawMap, readonly problems: readonly Problem[], readonly refused?: Error }

/** Where the checker finds job templates: resolves `uses` and loads (and caches) templates. */
export interface JobSource {
  resolve: (ref: string, pipelineFile: string) => { file: string } | { tried: string[] }
  load: (file: string) => LoadedJob
}

export interface PipelineCheck {
  /** Step id to the job template file it uses. */
  readonly uses: ReadonlyMap<string, string>
  /** Problems found in job templates the pipeline uses. */
  readonly related: readonly Problem[]
  /** Step ids, each after the steps it needs (empty when they form a cycle). */
  readonly order: readonly string[]
  /** The message trigger's schema, loaded and compiled. */
  readonly messageSchema: RawMap | undefined
}

/** Semantic checks of a pipeline beyond its schema; every problem goes to `findings`. */
export function checkPipeline (findings: Findings, templates: TemplateEngine, raw: RawMap, file: string, jobs: JobSource, files: ValidatorFiles): PipelineCheck {
  const dir = path.dirname(file)
  const on = asMap(raw.on)
  const messageSchema = checkTriggers(findings, on, file, files)
  const fields = asMap(messageSchema?.properties)
  const trigger = {
    watch: on?.watch !== undefined,
    message: on?.message !== undefined,
    messageFields: fields !== undefined && messageSchema?.additionalProperties === false ? new Set(Object.keys(fields)) : undefined
  }
  const pipelineInputs = inputTypes(raw.inputs)
  const watchInput = asString(asMap(on?.watch)?.input)
  if (watchInput !== undefined && pipelineInputs.get(watchInput) !== 'file') {
    const files = [...pipelineInputs].filter(([, t]) => t === 'file').map(([n]) => n)
    findings.error(['on', 'watch', 'input'], 'value', 'watch/unknown-input', `on.watch.input '${watchInput}' is not a file input of this pipeline${didYouMean(watchInput, files)}; ` +
      `${files.length === 0 ? 'declare one under inputs: with type: file' : `file inputs: ${listNames(files)}`}`)
  }
  const pipelineEnv = new Set(Object.keys(asMap(raw.env) ?? {}))
  const outside: TaintScope = { inputs: inputsOf(raw.inputs), env: new Map(), item: false }
  const outsideEnv = envOf(templates, raw.env, outside)
  checkInputs(findings, templates, raw.inputs, file, { trigger, run: true, where: '' }, 'warning', files)
  for (const [name, value] of entries(raw.env)) {
    if (typeof value === 'string') checkTemplate(findings, templates, ['env', name], value, { trigger, inputs: pipelineInputs, run: true, where: `env ${name}` }, 'plain')
  }

  const steps = entries(raw.steps).filter((e): e is [string, RawMap] => asMap(e[1]) !== undefined)
  const ids = new Set(steps.map(([id]) => id))
  const needs = new Map<string, string[]>()
  const uses = new Map<string, string>()
  const related: Problem[] = []
  const outputs = new Map<string, Set<string>>()

  for (const [id, step] of steps) {
    const at = ['steps', id]
    const where = `step '${id}'`
    checkBody(findings, at, step, where, true)
    if (step.with !== undefined && step.uses === undefined) findings.error([...at, 'with'], 'key', 'step/with-without-uses', `${where} has 'with' but no 'uses': with fills a job template's inputs`)
    if (step.inputs !== undefined && step.uses !== undefined) findings.error([...at, 'inputs'], 'key', 'step/inputs-with-uses', `${where} uses a job template: pass data through 'with', not 'inputs'`)
    const list = asStrings(step.needs)
    needs.set(id, list.filter((n) => ids.has(n)))
    list.forEach((need, i) => {
      if (!ids.has(need)) {
        findings.error(typeof step.needs === 'string' ? [...at, 'needs'] : [...at, 'needs', i], 'value', 'needs/unknown-step', `${where} needs '${need}', ` +
          `which is not a step${didYouMean(need, ids)}`)
      }
    })
    outputs.set(id, new Set(Object.keys(asMap(step.outputs) ?? {})))
    const ref = asString(step.uses)
    if (ref === undefined) continue
    const job = checkUses(findings, { at, step, ref, file, jobs, where, files })
    if (job === undefined) continue
    uses.set(id, job.file)
    related.push(...job.problems)
    if (job.raw !== undefined) outputs.set(id, new Set([...Object.keys(asMap(job.raw.outputs) ?? {}), ...(outputs.get(id) ?? [])]))
  }

  const result = orderSteps([...ids], needs)
  if ('cycle' in result) reportCycle(findings, result.cycle, raw.steps)

  for (const [id, step] of steps) {
    checkStepTemplates(findings, templates, id, step, {
      trigger, pipelineInputs, pipelineEnv, dir, files, outside: { ...outside, env: outsideEnv },
      steps: { all: ids, needed: ancestors(id, needs), outputs }
    })
  }
  return { uses, related, order: 'order' in result ? result.order : [], messageSchema }
}

/** Resolves and loads a step's job template, and checks its `with`; undefined when not found. */
function checkUses (
  findings: Findings,
  s: { at: string[], step: RawMap, ref: string, file: string, jobs: JobSource, where: string, files: ValidatorFiles }
): (LoadedJob & { file: string }) | undefined {
  const resolved = s.jobs.resolve(s.ref, s.file)
  if ('tried' in resolved) {
    findings.error([...s.at, 'uses'], 'value', 'uses/not-found', `job template '${s.ref}' not found; looked for ${resolved.tried.map((t) => path.relative(process.cwd(), t)).join(', ')}`)
    return undefined
  }
  const job = s.jobs.load(resolved.file)
  if (job.refused !== undefined) {
    findings.error([...s.at, 'uses'], 'value', 'uses/unreadable', `job template '${s.ref}' cannot be read: ${job.refused.message}`)
    return undefined
  }
  const errors = job.problems.filter((p) => p.severity === 'error')
  if (errors.length > 0 || job.raw === undefined) {
    findings.error([...s.at, 'uses'], 'value', 'uses/invalid', `job template ${path.relative(process.cwd(), resolved.file)} has ${errors.length} error${errors.length === 1 ? '' : 's'}; ` +
      `fix ${errors.length === 1 ? 'it' : 'them'} first`)
    return { problems: job.problems, file: resolved.file }
  }
  checkWith(findings, s.at, s.step, job.raw, s.where)
  checkWithConstraints(findings, s.at, s.step.with, job.raw.inputs, s.where)
  const types = inputTypes(job.raw.inputs)
  for (const [name, value] of entries(s.step.with)) {
    const type = types.get(name)
    if (typeof value === 'string' && (type === 'file' || type === 'cid')) checkDataRef(findings, [...s.at, 'with', name], value, path.dirname(s.file), 'error', s.files.kind, type === 'cid')
  }
  return { ...job, file: resolved.file }
}

/** Reports a cycle at the `needs` entry of its first step that points to the next. */
function reportCycle (findings: Findings, cycle: readonly string[], rawSteps: unknown): void {
  const [first = '', second = ''] = cycle
  const needs = asMap(asMap(rawSteps)?.[first])?.needs
  const place = typeof needs === 'string' ? ['steps', first, 'needs'] : ['steps', first, 'needs', asStrings(needs).indexOf(second)]
  findings.error(place, 'value', 'needs/cycle', `steps form a cycle: ${cycle.join(' → ')} (each needs the next); remove one of these needs`)
}

interface StepContext {
  trigger: NonNullable<NameScope['trigger']>
  pipelineInputs: ReadonlyMap<string, InputType>
  pipelineEnv: ReadonlySet<string>
  steps: NonNullable<NameScope['steps']>
  dir: string
  files: ValidatorFiles
  /** What the pipeline reads from outside: its inputs, and its env variables set from them. */
  outside: TaintScope
}

/** Checks every templated field of a step with the names valid there, and its data inputs. */
function checkStepTemplates (findings: Findings, templates: TemplateEngine, id: string, step: RawMap, context: StepContext): void {
  const at = ['steps', id]
  const { trigger, pipelineInputs, pipelineEnv, dir } = context
  const mounts = new Map([...pipelineInputs, ...Object.keys(asMap(step.inputs) ?? {}).map((n) => [n, 'mount'] as const)])
  const foreach = asMap(step.foreach)?.files !== undefined ? 'files' : (step.foreach !== undefined ? 'items' : undefined)
  const base: NameScope = {
    trigger,
    inputs: pipelineInputs,
    steps: context.steps,
    env: new Set([...pipelineEnv, ...Object.keys(asMap(step.env) ?? {})]),
    run: true,
    where: `step '${id}'`
  }
  const inner: NameScope = { ...base, inputs: mounts, outputs: context.steps.outputs.get(id) ?? new Set(), ...(foreach === undefined ? {} : { item: foreach }) }
  for (const [name, value] of entries(step.inputs)) {
    if (pipelineInputs.has(name)) findings.error([...at, 'inputs', name], 'key', 'step/input-shadows', `step '${id}' input '${name}' has the name of a pipeline input: rename one`)
    if (typeof value !== 'string') continue
    checkTemplate(findings, templates, [...at, 'inputs', name], value, { ...base, ...(foreach === undefined ? {} : { item: foreach }) }, 'plain')
    checkDataRef(findings, [...at, 'inputs', name], value, dir, 'error', context.files.kind)
  }
  if (typeof step.run === 'string') checkTemplate(findings, templates, [...at, 'run'], step.run, inner, 'shell')
  if (typeof step.command === 'string') checkTemplate(findings, templates, [...at, 'command'], step.command, inner, 'plain')
  asList(step.args).forEach((arg, i) => { if (typeof arg === 'string') checkTemplate(findings, templates, [...at, 'args', i], arg, inner, 'plain') })
  for (const [name, value] of entries(step.env)) {
    if (typeof value === 'string') checkTemplate(findings, templates, [...at, 'env', name], value, { ...inner, env: pipelineEnv }, 'plain')
  }
  for (const [name, value] of entries(step.with)) {
    if (typeof value === 'string') checkTemplate(findings, templates, [...at, 'with', name], value, { ...inner, outputs: undefined }, 'plain')
  }
  if (typeof step.if === 'string') checkCondition(findings, templates, [...at, 'if'], step.if, { ...inner, outputs: undefined })
  checkForeach(findings, templates, at, step.foreach, mounts, base)
  checkStepInjection(findings, templates, at, step, context)
}

/** Warns where a value from outside reaches an interpreter's script text in the step's command. */
function checkStepInjection (findings: Findings, templates: TemplateEngine, at: readonly string[], step: RawMap, context: StepContext): void {
  const item = typeof step.foreach === 'string' || asMap(step.foreach) !== undefined || asList(step.foreach).some((v) => typeof v === 'string' && v.includes('{{'))
  const scope: TaintScope = { inputs: withMounts(context.outside.inputs, Object.keys(asMap(step.inputs) ?? {})), env: context.outside.env, item }
  const env = envOf(templates, step.env, scope)
  checkCommandInjection(findings, templates, at, step, { ...scope, env })
}

/** `with` must give every required input of the job template and nothing it does not declare. */
function checkWith (findings: Findings, at: readonly string[], step: RawMap, job: RawMap, where: string): void {
  const declared = asMap(job.inputs) ?? {}
  const given = asMap(step.with) ?? {}
  for (const name of Object.keys(given)) {
    if (declared[name] === undefined) {
      const names = Object.keys(declared)
      findings.error([...at, 'with', name], 'key', 'with/unknown-input', `${where}: the job template has no input '${name}'${didYouMean(name, names)}; ` +
        `its inputs: ${names.length === 0 ? 'none' : listNames(names)}`)
    }
  }
  const missing = Object.entries(declared).filter(([name, spec]) => asMap(spec)?.required === true && asMap(spec)?.default === undefined && given[name] === undefined).map(([name]) => name)
  if (missing.length > 0) {
    findings.error(step.with === undefined ? [...at, 'uses'] : [...at, 'with'], 'key', 'with/missing-input', `${where}: the job template needs ${listNames(missing)}; ` +
      `add ${missing.length === 1 ? 'it' : 'them'} under with:`)
  }
}

function checkForeach (findings: Findings, templates: TemplateEngine, at: readonly string[], foreach: unknown, inputs: ReadonlyMap<string, string>, scope: NameScope): void {
  const spec = asMap(foreach)
  if (spec !== undefined) {
    const files = asString(spec.files)
    const type = files === undefined ? undefined : inputs.get(files)
    if (files !== undefined && type !== 'file' && type !== 'cid' && type !== 'mount') {
      const candidates = [...inputs].filter(([, t]) => t === 'file' || t === 'cid' || t === 'mount').map(([n]) => n)
      findings.error([...at, 'foreach', 'files'], 'value', 'foreach/unknown-input', `foreach files '${files}' ` +
        `is not a file or cid input of this step or pipeline${didYouMean(files, candidates)}${candidates.length > 0 ? `; candidates: ${listNames(candidates)}` : ''}`)
    }
    const glob = asString(spec.glob)
    if (glob !== undefined) checkGlob(findings, [...at, 'foreach', 'glob'], glob)
    return
  }
  if (typeof foreach === 'string') checkTemplate(findings, templates, [...at, 'foreach'], foreach, scope, 'plain')
  asList(foreach).forEach((item, i) => { if (typeof item === 'string') checkTemplate(findings, templates, [...at, 'foreach', i], item, scope, 'plain') })
}
