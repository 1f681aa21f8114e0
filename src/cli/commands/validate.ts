import { DEFAULT_VALIDATE_PATHS, UsageError, validatePaths } from '../../index.js'
import { EXIT } from '../exit.js'
import { FORMATS, formatGithub, formatJson, formatText, summary, type Format } from '../format.js'
import type { Io } from '../io.js'

export interface ValidateOptions {
  format?: string
  quiet?: boolean
}

/**
 * `bac validate [paths...]`: prints every problem and returns 0 when there is no error, 1 when
 * there are errors. Warnings alone do not fail.
 */
export function validateCommand (paths: readonly string[], options: ValidateOptions, io: Io): number {
  const format = (options.format ?? 'text') as Format
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got '${options.format ?? ''}'`)
  const result = validatePaths(paths.length > 0 ? paths : DEFAULT_VALIDATE_PATHS)
  const problems = options.quiet === true ? result.problems.filter((p) => p.severity === 'error') : result.problems
  if (format === 'json') io.out(formatJson(result.files, problems))
  else if (format === 'github') io.out(formatGithub(problems))
  else io.out(formatText(problems, io.colors))
  if (format !== 'json') io.err(summary(result.files.length, result.errors, options.quiet === true ? 0 : result.warnings))
  return result.errors > 0 ? EXIT.failed : EXIT.ok
}
