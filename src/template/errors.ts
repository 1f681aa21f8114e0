import { TemplateError } from '../interfaces/errors.js'

const TOKENS: Readonly<Record<string, string>> = {
  EOF: 'end of template',
  CLOSE: "'}}'",
  CLOSE_UNESCAPED: "'}}}'",
  OPEN: "'{{'",
  OPEN_BLOCK: "'{{#'",
  OPEN_ENDBLOCK: "'{{/'",
  OPEN_SEXPR: "'('",
  CLOSE_SEXPR: "')'",
  ID: 'name',
  STRING: 'string',
  NUMBER: 'number',
  INVALID: 'invalid character',
  SEP: "'.'",
  EQUALS: "'='"
}

/**
 * Handlebars reports a parse error as "Parse error on line N:\n<excerpt>\n---^\nExpecting …, got X".
 * This turns it into one readable line with a 1-based line and column inside the template.
 */
export function syntaxError (err: unknown, source: string): TemplateError {
  const message = err instanceof Error ? err.message : String(err)
  const lines = message.split('\n')
  const lineNo = Number(/on line (\d+)/.exec(lines[0] ?? '')?.[1] ?? 1)
  const got = /got '?([A-Z_]+)'?\s*$/.exec(message)?.[1]
  let detail: string
  if (/Lexical error/.test(message)) detail = 'unrecognized text'
  else if (got === 'EOF') detail = "unexpected end of template: a '{{' is not closed"
  else if (got !== undefined) detail = `unexpected ${TOKENS[got] ?? got}`
  else detail = (lines[0] ?? message).replace(/^Parse error on line \d+:?\s*/, '') || 'cannot parse'
  const column = caretColumn(lines[1], lines[2], source, lineNo)
  const mismatch = /(\S+) doesn't match (\S+)/.exec(message)
  if (mismatch !== null) detail = `'{{/${mismatch[2] ?? ''}}}' closes '{{#${mismatch[1] ?? ''}}}'`
  return new TemplateError(`template syntax error: ${detail}`, { line: lineNo, column, cause: err })
}

/** Finds the caret's column: the excerpt shows up to 20 characters before the error. */
function caretColumn (excerpt: string | undefined, caret: string | undefined, source: string, line: number): number | undefined {
  if (excerpt === undefined || caret === undefined || !caret.endsWith('^')) return undefined
  const before = excerpt.slice(0, caret.length - 1).replace(/^\.\.\./, '')
  const lineStart = nthLineStart(source, line)
  const lineEnd = source.indexOf('\n', lineStart)
  const end = lineEnd === -1 ? source.length : lineEnd
  for (let p = end; p >= lineStart; p--) {
    if (source.slice(0, p).replace(/\n/g, '').endsWith(before)) return p - lineStart + 1
  }
  return undefined
}

function nthLineStart (source: string, line: number): number {
  let offset = 0
  for (let i = 1; i < line; i++) {
    const next = source.indexOf('\n', offset)
    if (next === -1) break
    offset = next + 1
  }
  return offset
}

/** Turns a handlebars render-time exception into a `TemplateError` naming the expression. */
export function renderError (err: unknown, source: string): TemplateError {
  const e = err as { message?: string, lineNumber?: number, column?: number }
  const message = (e.message ?? String(err)).split('\n')[0] ?? ''
  const notDefined = /^"([^"]+)" not defined in (.*?)(?: - \d+:\d+)?$/.exec(message)
  const expression = e.lineNumber !== undefined && e.column !== undefined ? expressionAt(source, e.lineNumber, e.column) : undefined
  const where = expression === undefined ? '' : ` in ${expression}`
  const text = notDefined !== null
    ? `'${notDefined[1] ?? ''}' is not defined${where}${/^(undefined|null)$/.test(notDefined[2] ?? '') ? ` (the name before it is ${notDefined[2] ?? ''})` : ''}`
    : `${message.replace(/ - \d+:\d+$/, '')}${where}`
  return new TemplateError(text, { line: e.lineNumber, column: e.column === undefined ? undefined : e.column + 1, cause: err })
}

function expressionAt (source: string, line: number, column: number): string | undefined {
  const at = nthLineStart(source, line) + column
  const start = source.lastIndexOf('{{', at)
  const end = source.indexOf('}}', at)
  if (start === -1 || end === -1) return undefined
  return source.slice(start, end + (source[end + 2] === '}' ? 3 : 2))
}
