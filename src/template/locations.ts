import type { TemplateLocation } from '../interfaces/template.js'

/** Handlebars positions: 1-based line, 0-based column. */
interface HbsSourceLocation {
  start: { line: number, column: number }
  end: { line: number, column: number }
}

/** Converts handlebars line/column pairs to offsets in one template's text. */
export class LineIndex {
  private readonly starts: number[] = [0]

  constructor (source: string) {
    for (let i = 0; i < source.length; i++) {
      if (source.charCodeAt(i) === 10) this.starts.push(i + 1)
    }
  }

  offset (line: number, column: number): number {
    return (this.starts[line - 1] ?? 0) + column
  }

  location (loc: HbsSourceLocation | undefined | null): TemplateLocation {
    if (loc == null) return { line: 1, column: 1, start: 0, end: 0 }
    return {
      line: loc.start.line,
      column: loc.start.column + 1,
      start: this.offset(loc.start.line, loc.start.column),
      end: this.offset(loc.end.line, loc.end.column)
    }
  }
}

/**
 * Marks which offsets of a shell command lie inside single or double quotes, skipping the
 * `{{ … }}` expressions themselves. Returns a predicate over expression start offsets.
 */
export function quotedRegions (source: string, expressions: ReadonlyArray<{ start: number, end: number }>): (offset: number) => boolean {
  const sorted = [...expressions].sort((a, b) => a.start - b.start)
  const inside = new Set<number>()
  let state: 'none' | 'single' | 'double' = 'none'
  let next = 0
  for (let i = 0; i < source.length; i++) {
    const expr = sorted[next]
    if (expr !== undefined && i === expr.start) {
      if (state !== 'none') inside.add(expr.start)
      i = Math.max(i, expr.end - 1)
      next++
      continue
    }
    const c = source[i]
    if (state === 'single') {
      if (c === "'") state = 'none'
    } else if (c === '\\') {
      i++
    } else if (state === 'double') {
      if (c === '"') state = 'none'
    } else if (c === "'") {
      state = 'single'
    } else if (c === '"') {
      state = 'double'
    } else if (c === '#' && (i === 0 || /\s/.test(source[i - 1] ?? ''))) {
      // a comment runs to the end of the line: quotes inside it do not count
      const eol = source.indexOf('\n', i)
      if (eol === -1) break
      while (sorted[next] !== undefined && (sorted[next]?.start ?? 0) < eol) next++
      i = eol
    }
  }
  return (offset) => inside.has(offset)
}
