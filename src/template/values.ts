import { TemplateError } from '../interfaces/errors.js'
import type { RenderMode } from '../interfaces/template.js'
import { ShellWords, shellQuote } from './shell-quote.js'

/**
 * Turns a context value into text: strings as they are, `null` as empty, arrays and plain objects
 * as JSON, objects with their own `toString` (file inputs render their path) through it.
 */
export function stringify (value: unknown): string {
  if (value === null) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  if (value instanceof ShellWords) return value.items.join(' ')
  if (Array.isArray(value)) return JSON.stringify(value)
  if (typeof value === 'object') {
    const own = (value as { toString?: unknown }).toString
    if (typeof own === 'function' && own !== Object.prototype.toString) return String(value)
    return JSON.stringify(value)
  }
  return String(value)
}

/** Formats one `{{ }}` value for output: shell-quoted in shell mode unless written raw. */
export function formatValue (value: unknown, expression: string, mode: RenderMode, raw: boolean): string {
  if (value === undefined) {
    throw new TemplateError(`'${expression}' is not defined`)
  }
  if (mode === 'shell' && !raw) {
    if (value instanceof ShellWords) return value.items.map(shellQuote).join(' ')
    return shellQuote(stringify(value))
  }
  return stringify(value)
}
