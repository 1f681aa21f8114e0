import { createHash } from 'node:crypto'
import path from 'node:path'
import type { ValidateFunction } from 'ajv/dist/2020.js'
import { UserError } from '../interfaces/errors.js'
import type { JobTemplate, Pipeline } from '../interfaces/pipeline.js'
import type { Problem } from '../interfaces/problem.js'
import { problemKey } from './problems.js'
import type { TemplateEngine } from '../interfaces/template.js'
import { checkJob } from './check-job.js'
import { checkPipeline } from './check-pipeline.js'
import { decodeUtf8, loneSurrogate, type EncodingFault } from './encoding.js'
import { readOrRefusal, regularFiles, type ValidatorFiles } from './files.js'
import { Findings } from './findings.js'
import { isJobFile, resolveUses } from './jobstore.js'
import { buildJob, buildPipeline } from './model.js'
import { asMap, type RawMap } from './raw.js'
import { compileSchemas, schemaProblems, type SchemaKind } from './schema.js'
import { YamlSource } from './source.js'

export interface ValidatorComponents {
  templates: TemplateEngine
  /**
   * How files are read and looked for (pipelines, job templates, message schemas).
   * @default regularFiles(): regular files of at most 64 MiB
   */
  files?: ValidatorFiles
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

/** A job template as loaded: its outcome, or (with no problems) the reader's refusal to read it. */
type Job = ValidationResult<JobTemplate> & { raw?: RawMap, refused?: UserError }

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
  private readonly jobs = new Map<string, Job>()
  private readonly roots = new Map<string, string | undefined>()
  private readonly files: ValidatorFiles

  constructor (private readonly components: ValidatorComponents) {
    this.files = components.files ?? regularFiles()
  }

  /** Validates a pipeline or, inside a `jobstore/` folder, a job template. */
  validateFile (file: string): ValidationResult<Pipeline | JobTemplate> {
    return isJobFile(file) ? this.validateJobFile(file) : this.validatePipelineFile(file)
  }

  /**
   * Validates a pipeline file. A file the reader refuses (not a regular file, too large, not
   * allowed) throws the reader's `UserError`; everything in the file is reported as problems.
   */
  validatePipelineFile (file: string): ValidationResult<Pipeline> {
    const decoded = decodeUtf8(this.files.read(file, 'pipeline'))
    if ('fault' in decoded) return result<Pipeline>(file, [encodingProblem(file, decoded.fault)], undefined)
    return this.validatePipelineText(file, decoded.text)
  }

  /**
   * Validates pipeline text as if it were the file `file` (editors, tests, a pipeline sent over
   * the HTTP API): the job templates and schema files it names are read through `files`.
   */
  validatePipelineText (file: string, text: string): ValidationResult<Pipeline> {
    const fault = loneSurrogate(text)
    if (fault !== undefined) return result<Pipeline>(file, [encodingProblem(file, fault)], undefined)
    const absolute = path.resolve(file)
    const parsed = this.parse(file, text, 'pipeline')
    if (parsed.raw === undefined || parsed.findings === undefined) return result<Pipeline>(file, parsed.problems, undefined)
    const check = checkPipeline(parsed.findings, this.components.templates, parsed.raw, absolute, {
      resolve: (ref, pipelineFile) => resolveUses(ref, pipelineFile, this.roots, this.files.kind),
      load: (job) => this.loadJob(job)
    }, this.files)
    const problems = [...parsed.problems, ...parsed.findings.problems, ...check.related]
    if (problems.some((p) => p.severity === 'error')) return result<Pipeline>(file, problems, undefined)
    const jobs = new Map([...check.uses].map(([step, job]) => [step, this.jobs.get(job)?.value as JobTemplate]))
    return result(file, problems, { ...buildPipeline(parsed.raw, absolute, jobs, check.order, check.messageSchema), text })
  }

  /** Validates a job template file; a file the reader refuses throws, as for a pipeline. */
  validateJobFile (file: string): ValidationResult<JobTemplate> {
    const job = this.loadJob(path.resolve(file), file)
    if (job.refused !== undefined) throw job.refused
    const { raw: _raw, refused: _refused, ...outcome } = job
    return outcome
  }

  /** Validates job template text as if it were the file `file`; nothing is cached. */
  validateJobText (file: string, text: string): ValidationResult<JobTemplate> {
    const { raw: _raw, ...outcome } = this.checkJobText(path.resolve(file), file, text)
    return outcome
  }

  private loadJob (absolute: string, shown = path.relative(process.cwd(), absolute)): Job {
    const cached = this.jobs.get(absolute)
    if (cached !== undefined) return cached
    const bytes = readOrRefusal(this.files, absolute, 'job template')
    let outcome: Job
    if (bytes instanceof UserError) {
      outcome = { ...result<JobTemplate>(shown, [], undefined), refused: bytes }
    } else {
      const decoded = decodeUtf8(bytes)
      outcome = 'fault' in decoded
        ? result<JobTemplate>(shown, [encodingProblem(shown, decoded.fault)], undefined)
        : this.checkJobText(absolute, shown, decoded.text)
    }
    this.jobs.set(absolute, outcome)
    return outcome
  }

  private checkJobText (absolute: string, shown: string, text: string): ValidationResult<JobTemplate> & { raw?: RawMap } {
    const fault = loneSurrogate(text)
    if (fault !== undefined) return result<JobTemplate>(shown, [encodingProblem(shown, fault)], undefined)
    const parsed = this.parse(shown, text, 'job')
    let outcome: ValidationResult<JobTemplate> & { raw?: RawMap }
    if (parsed.raw === undefined || parsed.findings === undefined) {
      outcome = result<JobTemplate>(shown, parsed.problems, undefined)
    } else {
      checkJob(parsed.findings, this.components.templates, parsed.raw, absolute, this.files)
      const problems = [...parsed.problems, ...parsed.findings.problems]
      const clean = !problems.some((p) => p.severity === 'error')
      outcome = { ...result(shown, problems, clean ? { ...buildJob(parsed.raw, absolute), sha256: createHash('sha256').update(text, 'utf8').digest('hex') } : undefined), raw: parsed.raw }
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
      findings.error([], 'value', 'schema/type', `a ${kind === 'job' ? 'job template' : 'pipeline'} ` +
        `must be a mapping of keys (name:, ${kind === 'job' ? 'run:' : 'steps:'} …), got ${Array.isArray(source.value) ? 'a list' : typeof source.value}`)
      return { problems: [...problems, ...findings.problems] }
    }
    this.schemas ??= compileSchemas()
    const validate = this.schemas[kind]
    if (validate(raw) === false) problems.push(...schemaProblems(validate.errors ?? [], source))
    return { raw, findings, problems }
  }
}

function encodingProblem (file: string, fault: EncodingFault): Problem {
  return { file, line: fault.line, column: fault.column, severity: 'error', rule: 'yaml/encoding', message: fault.message, path: '' }
}
