import { discoverFiles, isJobFile, PipelineValidator, problemKey, readSchema, type ValidationResult } from '../pipeline/index.js'
import { createTemplateEngine } from '../template/index.js'
import type { Problem } from '../interfaces/problem.js'
import type { JobTemplate, Pipeline } from '../interfaces/pipeline.js'

/** The default folders `bac validate` checks when given no paths. */
export const DEFAULT_VALIDATE_PATHS = ['pipelines', 'jobstore'] as const

/** A validator wired with bac's template engine. Reuse one to validate many files. */
export function createValidator (): PipelineValidator {
  return new PipelineValidator({ templates: createTemplateEngine() })
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
 * job templates, the rest pipelines. Throws `UsageError` for a path that does not exist.
 */
export function validatePaths (paths: readonly string[] = DEFAULT_VALIDATE_PATHS): PathsValidation {
  const files = discoverFiles(paths)
  const validator = createValidator()
  const seen = new Set<string>()
  const problems: Problem[] = []
  for (const file of files) {
    for (const problem of validator.validateFile(file).problems) {
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

/** The pipeline files among files and folders (searched recursively; `jobstore/` files are left out). */
export function discoverPipelines (paths: readonly string[]): string[] {
  return discoverFiles(paths).filter((file) => !isJobFile(file))
}

/** The published JSON schema of pipelines (`pipeline`) or job templates (`job`). */
export function getSchema (kind: 'pipeline' | 'job'): Record<string, unknown> {
  return readSchema(kind)
}
