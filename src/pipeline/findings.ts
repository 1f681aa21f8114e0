import type { Problem, Severity } from '../interfaces/problem.js'
import { toPointer, type JsonPath, type YamlSource } from './source.js'

/** Collects the problems of one file, each placed at its key or value. */
export class Findings {
  readonly problems: Problem[] = []

  constructor (readonly source: YamlSource) {}

  error (path: JsonPath, which: 'key' | 'value', rule: string, message: string): void {
    this.add(path, which, 'error', rule, message)
  }

  warn (path: JsonPath, which: 'key' | 'value', rule: string, message: string): void {
    this.add(path, which, 'warning', rule, message)
  }

  add (path: JsonPath, which: 'key' | 'value', severity: Severity, rule: string, message: string): void {
    this.problems.push(this.source.problem(path, which, severity, rule, message))
  }

  /** A problem inside a string value, at offsets `start`..`end` of the parsed string. */
  inString (path: JsonPath, value: string, start: number, end: number, severity: Severity, rule: string, message: string): void {
    const { line, column } = this.source.positionInString(path, value, start, end)
    this.problems.push({ file: this.source.file, line, column, severity, rule, message, path: toPointer(path) })
  }

  get hasErrors (): boolean {
    return this.problems.some((p) => p.severity === 'error')
  }
}
