import { PLACEHOLDER, WordBuilder, type ShellCommand, type ShellInput, type ShellWord } from './shell-word.js'
import { templateSpans, type Span, type TemplateSpan } from './template-spans.js'

/** Nested command substitutions deeper than this are read as plain text. */
const MAX_DEPTH = 32

/** Words that open or close a compound command rather than name a program. */
const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', 'case', 'esac', '{', '}', '!', 'time', 'function', 'in', 'select', 'coproc', '[[', ']]'])
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*\+?=/
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/
const SPECIAL = /^[0-9@*#?$!-]/

interface MutableCommand {
  words: ShellWord[]
  assignments: Array<{ name: string, value: ShellWord }>
  stdin?: ShellInput
  pipedFrom?: ShellCommand
}

interface Pending { command: MutableCommand, delimiter: string, quoted: boolean, strip: boolean }

/**
 * A forgiving reader of POSIX shell scripts with handlebars templates in them: it splits a script
 * into simple commands and their words (quotes, escapes, `$VAR`, `${…}`, `$(…)`, backticks,
 * here-documents, redirections, pipelines), keeping each `{{ }}` expression whole as part of a
 * word. It never throws and always ends: text it cannot make sense of is read as words.
 */
class ShellReader {
  private i = 0
  private depth = 0
  private backticks = 0
  private readonly spans = new Map<number, TemplateSpan>()
  private readonly pending: Pending[] = []
  readonly commands: ShellCommand[] = []

  constructor (private readonly s: string) {
    for (const span of templateSpans(s)) this.spans.set(span.start, span)
  }

  /** Reads commands until the end, or until `close` (`)` or a backtick) ends a substitution. */
  list (close?: string): void {
    let command: MutableCommand = { words: [], assignments: [] }
    let parens = 0
    const finish = (piped = false): void => {
      if (command.words.length > 0 || command.assignments.length > 0 || command.stdin !== undefined) this.commands.push(command)
      command = piped && command.words.length > 0 ? { words: [], assignments: [], pipedFrom: command } : { words: [], assignments: [] }
    }
    const s = this.s
    while (this.i < s.length) {
      const c = s[this.i] as string
      if (this.spans.has(this.i)) {
        this.word(command)
        continue
      }
      if (close === '`' && c === '`') {
        this.i++
        break
      }
      if (c === ' ' || c === '\t' || c === '\r') { this.i++; continue }
      if (c === '\\' && s[this.i + 1] === '\n') { this.i += 2; continue }
      if (c === '\n') {
        finish()
        this.i++
        this.hereDocuments()
        continue
      }
      if (c === '#') {
        const eol = s.indexOf('\n', this.i)
        this.i = eol === -1 ? s.length : eol
        continue
      }
      if (c === ')') {
        this.i++
        if (parens > 0) { parens--; finish(); continue }
        if (close === ')') break
        finish()
        continue
      }
      if (c === '(') { this.i++; parens++; finish(); continue }
      if (c === '|') {
        const or = s[this.i + 1] === '|'
        this.i += or || s[this.i + 1] === '&' ? 2 : 1
        finish(!or)
        continue
      }
      if (c === ';') { this.i += s[this.i + 1] === ';' || s[this.i + 1] === '&' ? 2 : 1; finish(); continue }
      if (c === '&' && s[this.i + 1] !== '>') { this.i += s[this.i + 1] === '&' ? 2 : 1; finish(); continue }
      if (c === '<' || c === '>' || c === '&') {
        this.redirect(command)
        continue
      }
      this.word(command)
    }
    finish()
  }

  /** Reads a word into the command: an assignment before the command, a reserved word, or an argument. */
  private word (command: MutableCommand): void {
    const start = this.i
    const word = this.readWord()
    if (this.i === start) { this.i++; return } // never stall on a character no rule takes
    if (word.literal !== undefined && /^[0-9]+$/.test(word.literal) && (this.s[this.i] === '<' || this.s[this.i] === '>')) return // 2>file
    if (command.words.length === 0) {
      const assignment = ASSIGNMENT.exec(this.s.slice(word.start, word.end))
      if (assignment !== null) {
        command.assignments.push({ name: assignment[0].replace(/\+?=$/, ''), value: word })
        return
      }
      if (word.literal !== undefined && RESERVED.has(word.literal) && command.assignments.length === 0) return
    }
    command.words.push(word)
  }

  /** A redirection: its target is read (and dropped); `<<` queues a here-document, `<<<` is the input. */
  private redirect (command: MutableCommand): void {
    const s = this.s
    if ((s[this.i] === '<' || s[this.i] === '>') && s[this.i + 1] === '(') {
      // process substitution: a word whose value is a path
      const word = new WordBuilder(this.i)
      this.i += 2
      this.substitute(')')
      word.opaque(this.i)
      command.words.push(word.build(this.i))
      return
    }
    const op = /^(<<<|<<-|<<|&>>|&>|>>|>\||<>|<&|>&|<|>)/.exec(s.slice(this.i, this.i + 3))?.[0] ?? s[this.i] as string
    this.i += op.length
    while (s[this.i] === ' ' || s[this.i] === '\t') this.i++
    if (this.i >= s.length || s[this.i] === '\n') return
    const target = this.readWord()
    if (op === '<<<') command.stdin = { word: target, expands: true }
    if (op === '<<' || op === '<<-') {
      this.pending.push({ command, delimiter: target.text.replaceAll(PLACEHOLDER, ''), quoted: target.quoted, strip: op === '<<-' })
    }
  }

  /** After a newline: the bodies of the here-documents queued on that line, in order. */
  private hereDocuments (): void {
    const s = this.s
    for (const doc of this.pending.splice(0)) {
      const bodyStart = this.i
      let bodyEnd = s.length
      let next = s.length
      for (let line = this.i; line < s.length;) {
        const eol = s.indexOf('\n', line)
        const text = s.slice(line, eol === -1 ? s.length : eol)
        if ((doc.strip ? text.replace(/^\t+/, '') : text) === doc.delimiter) {
          bodyEnd = line
          next = eol === -1 ? s.length : eol + 1
          break
        }
        if (eol === -1) break
        line = eol + 1
      }
      this.i = bodyStart
      const word = new WordBuilder(bodyStart)
      while (this.i < bodyEnd) {
        if (doc.quoted) this.plain(word, bodyEnd)
        else this.inDouble(word, bodyEnd, true)
      }
      doc.command.stdin = { word: word.build(bodyEnd), expands: !doc.quoted }
      this.i = next
    }
  }

  /** One character or template of a quoted here-document body. */
  private plain (word: WordBuilder, end: number): void {
    if (this.template(word)) return
    word.char(this.s[this.i] as string, this.i)
    this.i = Math.min(this.i + 1, end)
  }

  private template (word: WordBuilder): boolean {
    const span = this.spans.get(this.i)
    if (span === undefined) return false
    if (span.value) {
      word.templates.push({ start: span.start, end: span.end })
      word.opaque(span.start)
    }
    this.i = Math.max(span.end, this.i + 1)
    return true
  }

  private readWord (): ShellWord {
    const s = this.s
    const word = new WordBuilder(this.i)
    while (this.i < s.length) {
      if (this.template(word)) continue
      const c = s[this.i] as string
      if (' \t\r\n;&|()<>'.includes(c) || (c === '`' && this.backticks > 0)) break
      if (c === "'") {
        word.quoted = true
        this.i++
        while (this.i < s.length && s[this.i] !== "'") this.plain(word, s.length)
        this.i++
      } else if (c === '"') {
        word.quoted = true
        this.i++
        while (this.i < s.length && s[this.i] !== '"') this.inDouble(word, s.length, false)
        this.i++
      } else if (c === '\\') {
        word.quoted = true
        if (s[this.i + 1] === '\n') { this.i += 2; continue }
        if (this.i + 1 < s.length) word.char(s[this.i + 1] as string, this.i + 1)
        this.i += 2
      } else if (c === '$') {
        this.dollar(word, false)
      } else if (c === '`') {
        this.backtick(word)
      } else {
        word.char(c, this.i)
        this.i++
      }
    }
    return word.build(Math.min(this.i, s.length))
  }

  /** One piece of double-quoted text (or of a here-document body that expands). */
  private inDouble (word: WordBuilder, end: number, heredoc: boolean): void {
    const s = this.s
    if (this.template(word)) return
    const c = s[this.i] as string
    if (c === '\\') {
      const next = s[this.i + 1]
      if (next === '\n') { this.i += 2; return }
      if (next !== undefined && (next === '$' || next === '`' || next === '\\' || (!heredoc && next === '"'))) {
        word.char(next, this.i + 1)
        this.i += 2
        return
      }
      word.char(c, this.i)
      this.i++
    } else if (c === '$') {
      this.dollar(word, true)
    } else if (c === '`') {
      this.backtick(word)
    } else {
      word.char(c, this.i)
      this.i++
    }
    if (this.i > end) this.i = end
  }

  /** `$…` at the current position: a variable, `${…}`, `$(…)`, `$((…))`, `$'…'`, or a plain `$`. */
  private dollar (word: WordBuilder, inDouble: boolean): void {
    const s = this.s
    const start = this.i
    const next = s[this.i + 1]
    if (next === '(' && s[this.i + 2] === '(') {
      this.i = this.matching(this.i + 3, '(', ')') + 1 // arithmetic: up to the second ')'
      if (s[this.i] === ')') this.i++
      word.opaque(start)
    } else if (next === '(') {
      this.i += 2
      this.substitute(')')
      word.opaque(start)
    } else if (next === '{') {
      const end = this.matching(this.i + 2, '{', '}')
      const inside = s.slice(this.i + 2, end)
      const name = /^[#!]?([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])/.exec(inside)?.[1]
      if (name !== undefined) word.vars.push({ start, end: end + 1, name })
      for (let at = start + 2; at < end; at++) {
        const span = this.spans.get(at)
        if (span?.value === true) word.templates.push({ start: span.start, end: span.end })
      }
      word.opaque(start)
      this.i = end + 1
    } else if (next === "'" && !inDouble) {
      word.quoted = true
      word.literal = false
      this.i += 2
      while (this.i < s.length && s[this.i] !== "'") {
        if (this.template(word)) continue
        if (s[this.i] === '\\' && this.i + 1 < s.length) { word.char(s[this.i + 1] as string, this.i + 1); this.i += 2; continue }
        word.char(s[this.i] as string, this.i)
        this.i++
      }
      this.i++
    } else if (next !== undefined && NAME.test(next)) {
      const name = NAME.exec(s.slice(this.i + 1, this.i + 200))?.[0] ?? next
      word.vars.push({ start, end: this.i + 1 + name.length, name })
      word.opaque(start)
      this.i += 1 + name.length
    } else if (next !== undefined && SPECIAL.test(next)) {
      word.vars.push({ start, end: this.i + 2, name: next })
      word.opaque(start)
      this.i += 2
    } else {
      word.char('$', this.i)
      this.i++
    }
  }

  /** A backtick command substitution: its commands are read like any others. */
  private backtick (word: WordBuilder): void {
    const start = this.i
    this.i++
    this.backticks++
    if (this.depth < MAX_DEPTH) {
      this.depth++
      this.list('`')
      this.depth--
    } else {
      const end = this.s.indexOf('`', this.i)
      this.i = end === -1 ? this.s.length : end + 1
    }
    this.backticks--
    word.opaque(start)
  }

  /** The commands of a `$(…)` or `<(…)`, read up to its closing parenthesis. */
  private substitute (close: ')'): void {
    if (this.depth >= MAX_DEPTH) {
      this.i = this.matching(this.i, '(', ')') + 1
      return
    }
    const backticks = this.backticks
    this.backticks = 0
    this.depth++
    this.list(close)
    this.depth--
    this.backticks = backticks
  }

  /** The offset of the `close` that matches an `open` already passed (templates and quotes skipped). */
  private matching (from: number, open: string, close: string): number {
    const s = this.s
    let depth = 0
    for (let i = from; i < s.length; i++) {
      const span = this.spans.get(i)
      if (span !== undefined) { i = Math.max(span.end, i + 1) - 1; continue }
      const c = s[i]
      if (c === '\\') { i++; continue }
      if (c === "'") { const q = s.indexOf("'", i + 1); if (q === -1) return s.length; i = q; continue }
      if (c === open) depth++
      else if (c === close) {
        if (depth === 0) return i
        depth--
      }
    }
    return s.length
  }
}

/**
 * Splits a shell script (with handlebars templates in it) into its simple commands, those inside
 * `$(…)` and backticks included, in the order they are written.
 */
export function parseShell (script: string): ShellCommand[] {
  const reader = new ShellReader(script)
  reader.list()
  return reader.commands
}
