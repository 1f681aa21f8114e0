import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { ValidateFunction } from 'ajv/dist/2020.js'
import { FileReadError } from '../interfaces/errors.js'
import type { JobTemplate, Pipeline } from '../interfaces/pipeline.js'
import type { Problem } from '../interfaces/problem.js'
import { problemKey } from './problems.js'
import type { TemplateEngine } from '../interfaces/template.js'
import { checkJob } from './check-job.js'
import { checkPipeline } from './check-pipeline.js'
import { Findings } from './findings.js'
import { isJobFile, resolveUses } from './jobstore.js'
import { buildJob, buildPipeline } from './model.js'
import { asMap, type RawMap } from './raw.js'
import { compileSchemas, schemaProblems, type SchemaKind } from './schema.js'
import { YamlSource } from './source.js'

export interface ValidatorComponents {
  templates: TemplateEngine
}

/** The outcome of validating one file: the model when there are no errors, and every problem. */
export interface ValidationResult<T> {
  readonly file: string
  readonly value?: T
  /** Every problem, sorted by file, line and column; includes those of job templates used. */
  readonly problems: readonly Problem[]
  readonly errors: readonly Problem[]
  readonly warnings: readonly Problem[]
}

interface Parsed { readonly raw?: RawMap, readonly findings?: Findings, readonly problems: Problem[] }

function sortProblems (problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>()
  return [...problems]
    .filter((p) => { const key = problemKey(p); return seen.has(key) ? false : (seen.add(key), true) })
    .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column)
}

function result<T> (file: string, problems: readonly Problem[], value: T | undefined): ValidationResult<T> {
  const sorted = sortProblems(problems)
  const errors = sorted.filter((p) => p.severity === 'error')
  return {
    file,
    ...(errors.length === 0 && value !== undefined ? { value } : {}),
    problems: sorted,
    errors,
    warnings: sorted.filter((p) => p.severity === 'warning')
  }
}

/**
 * Validates pipelines and job templates: YAML, schema and semantic checks, every problem at its
 * line and column. One instance compiles the schemas once and reads each job template once.
 */
export class PipelineValidator {
  private schemas: Record<SchemaKind, ValidateFunction> | undefined
  private readonly jobs = new Map<string, ValidationResult<JobTemplate> & { raw?: RawMap }>()
  private readonly roots = new Map<string, string | undefined>()

  constructor (private readonly components: ValidatorComponents) {}

  /** Validates a pipeline or, inside a `jobstore/` folder, a job template. */
  validateFile (file: string): ValidationResult<Pipeline | JobTemplate> {
    return isJobFile(file) ? this.validateJobFile(file) : this.validatePipelineFile(file)
  }

  validatePipelineFile (file: string): ValidationResult<Pipeline> {
    return this.validatePipelineText(file, read(file))
  }

  /** Validates pipeline text as if it were the file `file` (used by editors and tests). */
  validatePipelineText (file: string, text: string): ValidationResult<Pipeline> {
    const absolute = path.resolve(file)
    const parsed = this.parse(file, text, 'pipeline')
    if (parsed.raw === undefined || parsed.findings === undefined) return result<Pipeline>(file, parsed.problems, undefined)
    const check = checkPipeline(parsed.findings, this.components.templates, parsed.raw, absolute, {
      resolve: (ref, pipelineFile) => resolveUses(ref, pipelineFile, this.roots),
      load: (job) => this.loadJob(job)
    })
    const problems = [...parsed.problems, ...parsed.findings.problems, ...check.related]
    if (problems.some((p) => p.severity === 'error')) return result<Pipeline>(file, problems, undefined)
    const jobs = new Map([...check.uses].map(([step, job]) => [step, this.jobs.get(job)?.value as JobTemplate]))
    return result(file, problems, buildPipeline(parsed.raw, absolute, jobs, check.order, check.messageSchema))
  }

  validateJobFile (file: string): ValidationResult<JobTemplate> {
    const { raw: _raw, ...outcome } = this.loadJob(path.resolve(file), file)
    return outcome
  }

  /** Validates job template text as if it were the file `file`; nothing is cached. */
  validateJobText (file: string, text: string): ValidationResult<JobTemplate> {
    const { raw: _raw, ...outcome } = this.checkJobText(path.resolve(file), file, text)
    return outcome
  }

  private loadJob (absolute: string, shown = path.relative(process.cwd(), absolute)): ValidationResult<JobTemplate> & { raw?: RawMap } {
    const cached = this.jobs.get(absolute)
    if (cached !== undefined) return cached
    let outcome: ValidationResult<JobTemplate> & { raw?: RawMap }
    try {
      outcome = this.checkJobText(absolute, shown, read(absolute))
    } catch (err) {
      outcome = result<JobTemplate>(shown, [{ file: shown, line: 1, column: 1, severity: 'error', rule: 'uses/unreadable', message: (err as Error).message, path: '' }], undefined)
    }
    this.jobs.set(absolute, outcome)
    return outcome
  }

  private checkJobText (absolute: string, shown: string, text: string): ValidationResult<JobTemplate> & { raw?: RawMap } {
    const parsed = this.parse(shown, text, 'job')
    let outcome: ValidationResult<JobTemplate> & { raw?: RawMap }
    if (parsed.raw === undefined || parsed.findings === undefined) {
      outcome = result<JobTemplate>(shown, parsed.problems, undefined)
    } else {
      checkJob(parsed.findings, this.components.templates, parsed.raw, absolute)
      const problems = [...parsed.problems, ...parsed.findings.problems]
      const clean = !problems.some((p) => p.severity === 'error')
      outcome = { ...result(shown, problems, clean ? buildJob(parsed.raw, absolute) : undefined), raw: parsed.raw }
    }
    return outcome
  }

  /** YAML then schema; semantic checks run after, on whatever parsed. */
  private parse (file: string, text: string, kind: SchemaKind): Parsed {
    const { source, problems } = YamlSource.parse(file, text)
    if (source === undefined) return { problems }
    const findings = new Findings(source)
    const raw = asMap(source.value)
    if (raw === undefined) {
      findings.error([], 'value', 'schema/type', `a ${kind === 'job' ? 'job template' : 'pipeline'} must be a mapping of keys (name:, ${kind === 'job' ? 'run:' : 'steps:'} …), got ${Array.isArray(source.value) ? 'a list' : typeof source.value}`)
      return { problems: [...problems, ...findings.problems] }
    }
    this.schemas ??= compileSchemas()
    const validate = this.schemas[kind]
    if (validate(raw) === false) problems.push(...schemaProblems(validate.errors ?? [], source))
    return { raw, findings, problems }
  }
}

function read (file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new FileReadError(file, { cause: err })
  }
}
