import { TemplateError } from '../interfaces/errors.js'
import type { RenderMode } from '../interfaces/template.js'
import type { ShellContext } from './shell-context.js'
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

/**
 * Formats one `{{ }}` value for output. In shell mode, unless written raw, the value is escaped
 * for where it stands (`context`) so that it stays data: a word of its own is single-quoted
 * whole; inside the script's double quotes its `\ " $ \`` are escaped; inside single quotes its
 * `'` closes, is escaped and reopens; in a here-document's body that expands its `\ $ \`` are
 * escaped, and a line of it that would end the document is refused.
 */
export function formatValue (value: unknown, expression: string, mode: RenderMode, raw: boolean, context: ShellContext = { kind: 'word' }): string {
  if (value === undefined) {
    throw new TemplateError(`'${expression}' is not defined`)
  }
  if (mode !== 'shell' || raw) return stringify(value)
  let escaped = escapeFor(value, expression, context)
  // a backquoted substitution reads its text once before it runs it: \ \` \$ lose a backslash there
  for (let i = 0; i < (context.backquotes ?? 0); i++) escaped = escaped.replace(/[\\`$]/g, '\\$&')
  return escaped
}

function escapeFor (value: unknown, expression: string, context: ShellContext): string {
  const text = value instanceof ShellWords ? undefined : stringify(value)
  switch (context.kind) {
    case 'word':
      return value instanceof ShellWords ? value.items.map(shellQuote).join(' ') : shellQuote(text ?? '')
    case 'double':
      return (text ?? (value as ShellWords).items.join(' ')).replace(context.brace === true ? /[\\"$`}]/g : /[\\"$`]/g, '\\$&')
    case 'single':
      return (text ?? (value as ShellWords).items.join(' ')).replaceAll("'", `'\\''`)
    case 'heredoc': {
      const body = text ?? (value as ShellWords).items.join(' ')
      const ends = body.split('\n').some((line) => (context.stripTabs ? line.replace(/^\t+/, '') : line) === context.delimiter)
      if (ends) throw new TemplateError(`'${expression}' holds a line '${context.delimiter}', which would end the here-document it is written in; its value cannot be written there`)
      return context.expands ? body.replace(/[\\$`]/g, '\\$&') : body
    }
  }
}
