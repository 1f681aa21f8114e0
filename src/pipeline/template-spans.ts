/** A stretch of a string: offsets `start`..`end` (end excluded). */
export interface Span {
  readonly start: number
  readonly end: number
}

/** A `{{ }}` expression in a template's text; `value` when it inserts a value (not a block, comment or `else`). */
export interface TemplateSpan extends Span {
  readonly value: boolean
}

/**
 * The handlebars expressions of a template's text, in order: `{{ x }}` and `{{{ x }}}` insert a
 * value; `{{#…}}`, `{{/…}}`, `{{^…}}`, `{{else}}`, `{{!…}}` and `{{>…}}` do not. `\{{` is literal
 * text. An unclosed expression runs to the end of the text.
 */
export function templateSpans (text: string): TemplateSpan[] {
  const spans: TemplateSpan[] = []
  let from = 0
  for (;;) {
    const start = text.indexOf('{{', from)
    if (start === -1) return spans
    if (start > 0 && text[start - 1] === '\\') {
      from = start + 2
      continue
    }
    const close = text.startsWith('{{{', start) ? '}}}' : (text.startsWith('{{!--', start) ? '--}}' : '}}')
    const found = text.indexOf(close, start + 2)
    const end = found === -1 ? text.length : found + close.length
    const head = text.slice(start + 2, start + 8).replace(/^[~\s]+/, '')
    const value = close === '}}}' || !/^([#/^!>*]|else\b)/.test(head)
    spans.push({ start, end, value })
    from = end
  }
}
