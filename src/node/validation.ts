import { discoverFiles, isJobFile, PipelineValidator, problemKey, readSchema, type ValidationResult, type ValidatorFiles } from '../pipeline/index.js'
import { UserError } from '../interfaces/errors.js'
import { createTemplateEngine } from '../template/index.js'
import type { Problem } from '../interfaces/problem.js'
import type { JobTemplate, Pipeline } from '../interfaces/pipeline.js'

/** The default folders `bac validate` checks when given no paths. */
export const DEFAULT_VALIDATE_PATHS = ['pipelines', 'jobstore'] as const

/**
 * A validator wired with bac's template engine. Reuse one to validate many files. `files` is how
 * it reads and looks for files (default: regular files of at most 64 MiB; see `ValidatorFiles`).
 */
export function createValidator (init: { files?: ValidatorFiles } = {}): PipelineValidator {
  return new PipelineValidator({ templates: createTemplateEngine(), ...(init.files !== undefined ? { files: init.files } : {}) })
}

/**
 * Validates one pipeline file: YAML, schema, and semantic checks (needs, cycles, uses/with,
 * template names, durations, cron, globs). Never throws for problems in the file; they are data.
 *
 * @example
 * const { value: pipeline, errors } = validatePipeline('pipelines/hello.yml')
 */
export function validatePipeline (file: string): ValidationResult<Pipeline> {
  return createValidator().validatePipelineFile(file)
}

/** Validates one job template file (a `jobstore/` file). */
export function validateJobTemplate (file: string): ValidationResult<JobTemplate> {
  return createValidator().validateJobFile(file)
}

export interface PathsValidation {
  /** The files that were checked. */
  readonly files: readonly string[]
  /** Every problem of every file (and of the job templates they use), each once. */
  readonly problems: readonly Problem[]
  readonly errors: number
  readonly warnings: number
}

/**
 * Validates files and folders (recursively, `.yml`/`.yaml`); files inside a `jobstore/` folder are
 * job templates, the rest pipelines. Throws `UsageError` for a path that does not exist or is not
 * a regular file or folder; a file that cannot be read is an error (`file/unreadable`) at its 1:1.
 */
export function validatePaths (paths: readonly string[] = DEFAULT_VALIDATE_PATHS): PathsValidation {
  const files = discoverFiles(paths)
  const validator = createValidator()
  const seen = new Set<string>()
  const problems: Problem[] = []
  for (const file of files) {
    for (const problem of validateOne(validator, file)) {
      const key = problemKey(problem)
      if (!seen.has(key)) {
        seen.add(key)
        problems.push(problem)
      }
    }
  }
  return {
    files,
    problems,
    errors: problems.filter((p) => p.severity === 'error').length,
    warnings: problems.filter((p) => p.severity === 'warning').length
  }
}

/** A file's problems; a file the reader refuses is one problem at its start. */
function validateOne (validator: PipelineValidator, file: string): readonly Problem[] {
  try {
    return validator.validateFile(file).problems
  } catch (err) {
    if (!(err instanceof UserError)) throw err
    return [{ file, line: 1, column: 1, severity: 'error', rule: 'file/unreadable', message: err.message, path: '' }]
  }
}

/** The pipeline files among files and folders (searched recursively; `jobstore/` files are left out). */
export function discoverPipelines (paths: readonly string[]): string[] {
  return discoverFiles(paths).filter((file) => !isJobFile(file))
}

/** The published JSON schema of pipelines (`pipeline`) or job templates (`job`). */
export function getSchema (kind: 'pipeline' | 'job'): Record<string, unknown> {
  return readSchema(kind)
}
