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
