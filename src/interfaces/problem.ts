/** How serious a problem is: an error fails validation, a warning does not. */
export type Severity = 'error' | 'warning'

/**
 * One problem found in a pipeline or job template, with its exact source position.
 *
 * @example
 * { file: 'pipelines/x.yml', line: 4, column: 7, severity: 'error',
 *   rule: 'needs/unknown-step', message: "step 'b' needs 'c', which is not a step", path: '/steps/b/needs/0' }
 */
export interface Problem {
  readonly file: string
  /** 1-based line. */
  readonly line: number
  /** 1-based column. */
  readonly column: number
  readonly severity: Severity
  /** A stable identifier of the check, e.g. `schema/unknown-key`, `needs/cycle`. */
  readonly rule: string
  readonly message: string
  /** JSON pointer of the offending value in the document, e.g. `/steps/build/needs/0`. */
  readonly path: string
}
