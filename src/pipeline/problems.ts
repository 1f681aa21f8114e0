import type { Problem } from '../interfaces/problem.js'

/** Two reports of the same problem have the same key (a job template used by many pipelines). */
export function problemKey (p: Problem): string {
  return `${p.file}:${p.line}:${p.column}:${p.rule}:${p.message}`
}
