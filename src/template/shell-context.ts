/**
 * Where in a shell script a `{{ }}` stands, which decides how its value must be escaped to stay
 * data: a word of its own (single-quoted whole), inside the script's double quotes (its `\ " $ \``
 * escaped), inside single quotes (its `'` closed and reopened), or in a here-document's body
 * (`\ $ \`` escaped when the body expands, as is otherwise; a line equal to the delimiter refused).
 */
export type ShellContext = (
  | { readonly kind: 'word' }
  | { readonly kind: 'double', readonly brace?: boolean }
  | { readonly kind: 'single' }
  | { readonly kind: 'heredoc', readonly delimiter: string, readonly stripTabs: boolean, readonly expands: boolean }
) & {
  /** Backquoted command substitutions around it: each reads its text once more, so each escapes it once more. */
  readonly backquotes?: number
}

const WORD: ShellContext = { kind: 'word' }

/** A frame of the reader's stack: quotes, and the substitutions that start a fresh unquoted context inside them. */
type Frame = 'single' | 'double' | 'subst' | 'paren' | 'backtick' | 'brace' | 'inner-backtick'

/** A here-document announced on the current line: its body starts at the next newline. */
interface PendingHeredoc { delimiter: string, stripTabs: boolean, expands: boolean }

/**
 * The context of each template expression in a shell script, by its start offset. `spans` are the
 * expressions (and block tags, comments) to skip as text: they stand for values, not syntax. A
 * forgiving reader of POSIX sh: quotes, backslashes, `$( )`, backticks, `${ }`, comments and
 * here-documents (`<<`, `<<-`, quoted delimiters); unknown syntax reads as plain words. An
 * expression it cannot place counts as a word.
 */
export function shellContexts (source: string, spans: ReadonlyArray<{ start: number, end: number }>): Map<number, ShellContext> {
  const sorted = [...spans].sort((a, b) => a.start - b.start)
  const contexts = new Map<number, ShellContext>()
  const stack: Frame[] = []
  const pending: PendingHeredoc[] = []
  let heredoc: { doc: PendingHeredoc, base: number } | undefined
  let lineStart = false
  let next = 0
  const top = (): Frame | undefined => stack[stack.length - 1]
  const inBody = (): boolean => heredoc !== undefined && stack.length === heredoc.base
  const current = (): ShellContext => {
    const backquotes = stack.filter((f) => f === 'backtick' || f === 'inner-backtick').length
    const around = backquotes > 0 ? { backquotes } : {}
    if (heredoc !== undefined && inBody()) return { kind: 'heredoc', ...heredoc.doc, ...around }
    const t = top()
    if (t === 'single') return { kind: 'single', ...around }
    // in ${…}, what the braces stand in decides
    const inBrace = t === 'brace' && stack.lastIndexOf('double') > Math.max(stack.lastIndexOf('subst'), stack.lastIndexOf('paren'), stack.lastIndexOf('backtick'))
    if (t === 'double') return { kind: 'double', ...around }
    // in "${name:-…}" a } would end the expansion: it is escaped too
    if (inBrace) return { kind: 'double', brace: true, ...around }
    return { kind: 'word', ...around }
  }
  /** `$(`, `$((`, `${` and a backtick open a frame wherever expansions happen. */
  const expansion = (i: number): number => {
    const c = source[i]
    if (c === '$' && source[i + 1] === '(') { stack.push(source[i + 2] === '(' ? 'paren' : 'subst'); return i + 1 }
    if (c === '$' && source[i + 1] === '{') { stack.push('brace'); return i + 1 }
    if (c === '`') { stack.push('backtick'); return i }
    return -1
  }
  for (let i = 0; i < source.length; i++) {
    const span = sorted[next]
    if (span !== undefined && i >= span.start) {
      contexts.set(span.start, current())
      i = Math.max(i, span.end - 1)
      next++
      lineStart = false
      continue
    }
    const c = source[i] as string
    if (heredoc !== undefined && inBody()) {
      // a body line: it ends the document when it is the delimiter (tabs removed first, with <<-)
      if (lineStart) {
        const eol = source.indexOf('\n', i)
        const end = eol === -1 ? source.length : eol
        const line = source.slice(i, end)
        const hasSpan = sorted[next] !== undefined && (sorted[next]?.start ?? Infinity) < end
        if (!hasSpan && (heredoc.doc.stripTabs ? line.replace(/^\t+/, '') : line) === heredoc.doc.delimiter) {
          const following = pending.shift()
          heredoc = following === undefined ? undefined : { doc: following, base: stack.length }
          i = end
          lineStart = heredoc !== undefined
          continue
        }
      }
      lineStart = c === '\n'
      if (!heredoc.doc.expands) continue
      if (c === '\\') { i++; continue }
      const moved = expansion(i)
      if (moved >= 0) i = moved
      continue
    }
    lineStart = false
    const frame = top()
    if (frame === 'single') {
      if (c === "'") stack.pop()
      continue
    }
    if (c === '\\') {
      // inside backquotes, \` opens (and closes) a backquoted substitution nested in it
      if (source[i + 1] === '`' && stack.some((f) => f === 'backtick' || f === 'inner-backtick')) {
        if (frame === 'inner-backtick') stack.pop()
        else stack.push('inner-backtick')
      }
      i++
      continue
    }
    if (frame === 'double') {
      if (c === '"') { stack.pop(); continue }
      const moved = expansion(i)
      if (moved >= 0) i = moved
      continue
    }
    if (frame === 'brace' && c === '}') { stack.pop(); continue }
    if (frame === 'backtick' && c === '`') { stack.pop(); continue }
    if ((frame === 'subst' || frame === 'paren') && c === ')') { stack.pop(); continue }
    if (frame === 'inner-backtick' && c === '`') { stack.pop(); continue }
    // unquoted: at the top, or inside a substitution
    const moved = expansion(i)
    if (moved >= 0) { i = moved; continue }
    if (c === "'") stack.push('single')
    else if (c === '"') stack.push('double')
    else if (c === '(') stack.push('paren')
    else if (c === '#' && (i === 0 || /[\s;&|()]/.test(source[i - 1] ?? ''))) {
      // a comment runs to the end of the line; an expression in it renders as a word
      const eol = source.indexOf('\n', i)
      const end = eol === -1 ? source.length : eol
      while (sorted[next] !== undefined && (sorted[next]?.start ?? 0) < end) {
        contexts.set(sorted[next]?.start ?? 0, WORD)
        next++
      }
      i = end - 1
    } else if (c === '<' && source[i + 1] === '<' && source[i + 2] !== '<') {
      const announced = readDelimiter(source, i + 2)
      if (announced !== undefined) {
        pending.push(announced.heredoc)
        i = announced.end - 1
      } else {
        i++
      }
    } else if (c === '\n' && pending.length > 0) {
      heredoc = { doc: pending.shift() as PendingHeredoc, base: stack.length }
      lineStart = true
    }
  }
  return contexts
}

/** The delimiter word after `<<` (and `-`): quoted in any part, the body does not expand. */
function readDelimiter (source: string, from: number): { heredoc: PendingHeredoc, end: number } | undefined {
  let i = from
  const stripTabs = source[i] === '-'
  if (stripTabs) i++
  while (source[i] === ' ' || source[i] === '\t') i++
  let delimiter = ''
  let quoted = false
  for (; i < source.length; i++) {
    const c = source[i] as string
    if (c === "'" || c === '"') {
      const close = source.indexOf(c, i + 1)
      if (close === -1) return undefined
      delimiter += source.slice(i + 1, close)
      quoted = true
      i = close
    } else if (c === '\\') {
      delimiter += source[i + 1] ?? ''
      quoted = true
      i++
    } else if (/[\s;&|<>()]/.test(c)) {
      break
    } else {
      delimiter += c
    }
  }
  if (delimiter === '') return undefined
  return { heredoc: { delimiter, stripTabs, expands: !quoted }, end: i }
}

/**
 * The spans of a template's `{{ … }}` tags (expressions, block tags, comments) in its text, so a
 * shell reader can skip them: `{{!-- … --}}`, `{{! … }}`, `{{{ … }}}` and `{{ … }}`, with quoted
 * strings inside an expression read as such.
 */
export function templateSpans (source: string): Array<{ start: number, end: number }> {
  const spans: Array<{ start: number, end: number }> = []
  let i = source.indexOf('{{')
  while (i !== -1) {
    let end: number
    if (source.startsWith('{{!--', i)) {
      const close = source.indexOf('--}}', i + 5)
      end = close === -1 ? source.length : close + 4
    } else if (source.startsWith('{{!', i)) {
      const close = source.indexOf('}}', i + 3)
      end = close === -1 ? source.length : close + 2
    } else {
      const triple = source.startsWith('{{{', i)
      let j = i + (triple ? 3 : 2)
      while (j < source.length && !source.startsWith('}}', j)) {
        const c = source[j]
        if (c === '"' || c === "'") {
          const close = source.indexOf(c, j + 1)
          j = close === -1 ? source.length : close + 1
        } else {
          j++
        }
      }
      end = Math.min(source.length, j + (triple && source[j + 2] === '}' ? 3 : 2))
    }
    spans.push({ start: i, end })
    i = source.indexOf('{{', end)
  }
  return spans
}
