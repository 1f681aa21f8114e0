import type { TemplateEngine } from '../interfaces/template.js'
import type { Findings } from './findings.js'
import { mentionsInterpreter, programName, scriptUse, type ScriptUse } from './interpreters.js'
import { parseShell } from './shell-reader.js'
import { originOf, PLACEHOLDER, type ShellCommand, type ShellWord } from './shell-word.js'
import { asList, type RawMap } from './raw.js'
import type { JsonPath } from './source.js'
import { outsideValues, type TaintScope } from './taint.js'
import { templateSpans, type Span } from './template-spans.js'
import { findCommands, unwrap } from './wrappers.js'

/** A templated string value: a `run` script, a `command`, one of `args`. */
export interface Field { readonly path: JsonPath, readonly value: string }

/** How deep shell scripts inside shell scripts (`sh -c '…'`) are read. */
const MAX_NESTING = 3
/** The most warnings one field gets (each is placed by a search of the field's text). */
const MAX_WARNINGS = 50
const RULE = 'template/script-injection'
const FIX = 'pass it as data instead: an argument the script reads, or an env var the script reads itself ' +
  '(ENVIRON in awk, os.environ in Python, process.env in Node); or constrain the input with pattern: or enum:'

/** Reads a set of fields (one `run` script, or a command and its args) for script injection. */
class InjectionCheck {
  private readonly reported = new Set<string>()
  /** Shell variables set from outside in the script (`X={{ inputs.x }}`), with the env's. */
  private readonly vars: Map<string, string>
  /** The field each word is in (a `run` script is one field; `command` and `args` are one each). */
  private readonly fieldOf = new WeakMap<ShellWord, number>()

  constructor (
    private readonly findings: Findings,
    private readonly fields: readonly Field[],
    private readonly values: ReadonlyArray<ReadonlyMap<number, string>>,
    scope: TaintScope
  ) {
    this.vars = new Map(scope.env)
  }

  /** Places a word in a field (words not placed are in the first). */
  place (word: ShellWord, field: number): ShellWord {
    this.fieldOf.set(word, field)
    return word
  }

  /** Learns the script's own variables set from outside values (twice, for chains of them). */
  learn (commands: readonly ShellCommand[]): void {
    for (let round = 0; round < 2; round++) {
      for (const command of commands) {
        const declared = ['export', 'local', 'declare', 'typeset', 'readonly'].includes(programName(command.words[0]) ?? '')
          ? command.words.slice(1).flatMap((word) => {
            const name = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(word.text)?.[1]
            return name === undefined ? [] : [{ name, value: word }]
          })
          : []
        for (const { name, value } of [...command.assignments, ...declared]) {
          const origin = this.originOf(value)
          if (origin !== undefined && !this.vars.has(name)) this.vars.set(name, origin)
        }
      }
    }
  }

  /** What in a word comes from outside: a template's text, or a variable's origin. */
  private originOf (word: ShellWord): string | undefined {
    const values = this.values[this.fieldOf.get(word) ?? 0]
    for (const t of word.templates) {
      const origin = values?.get(t.start)
      if (origin !== undefined) return origin
    }
    for (const v of word.vars) {
      const origin = this.vars.get(v.name)
      if (origin !== undefined) return `$${v.name} (${origin})`
    }
    return undefined
  }

  /** Checks one command: what it runs, unwrapped (`env`, `xargs`, `find -exec` …), and its input. */
  command (words: readonly ShellWord[], command: ShellCommand | undefined, depth: number): void {
    const unwrapped = unwrap(words)
    for (const sub of findCommands(unwrapped.words)) this.command(sub, undefined, depth)
    const use = scriptUse(unwrapped.words)
    if (use === undefined) return
    for (const { word, how } of use.words) this.script(word, use, how, depth, true)
    if (!use.stdin || !unwrapped.stdin || command === undefined) return
    if (command.stdin !== undefined) {
      this.script(command.stdin.word, use, 'standard input', depth, command.stdin.expands)
    } else if (command.pipedFrom !== undefined) {
      const left = unwrap(command.pipedFrom.words).words
      const feeder = programName(left[0])
      if (feeder === 'echo' || feeder === 'printf') {
        for (const word of left.slice(1)) this.script(word, use, `standard input, from ${feeder}`, depth, true)
      } else if (feeder === 'cat' && command.pipedFrom.stdin !== undefined) {
        this.script(command.pipedFrom.stdin.word, use, 'standard input, from cat', depth, command.pipedFrom.stdin.expands)
      }
    }
  }

  /** A word that is script text: every outside value in it is reported; a shell script is read again. */
  private script (word: ShellWord, use: ScriptUse, how: string, depth: number, expands: boolean): void {
    const field = this.fieldOf.get(word) ?? 0
    const where = `${use.program}'s ${use.noun} (${how})`
    for (const t of word.templates) {
      const origin = this.values[field]?.get(t.start)
      if (origin !== undefined) this.report(field, t, `${origin} reaches ${where}, where a value from outside is code and shell quoting does not help; ${FIX}`)
    }
    if (expands) {
      for (const v of word.vars) {
        const origin = this.vars.get(v.name)
        if (origin !== undefined) this.report(field, v, `$${v.name} is set from ${origin}, and the shell expands it into ${where}, where a value from outside is code; ${FIX}`)
      }
    }
    if (use.shell && depth < MAX_NESTING && word.text.replaceAll(PLACEHOLDER, '').trim() !== '') {
      for (const inner of parseShell(word.text)) {
        const moved = this.relocate(inner, word.origin, field)
        this.command(moved.words, moved, depth + 1)
      }
    }
  }

  /** A command read from a word's text, moved to where that text is in its field. */
  private relocate (command: ShellCommand, at: (index: number) => number, field: number): ShellCommand {
    const span = <T extends Span>(s: T): T => ({ ...s, start: at(s.start), end: at(Math.max(s.end - 1, s.start)) + 1 })
    const word = (w: ShellWord): ShellWord => this.place({ ...span(w), templates: [], vars: w.vars.map(span), origin: (i) => at(w.origin(i)) }, field)
    return {
      words: command.words.map(word),
      assignments: command.assignments.map((a) => ({ name: a.name, value: word(a.value) })),
      ...(command.stdin !== undefined ? { stdin: { ...command.stdin, word: word(command.stdin.word) } } : {}),
      ...(command.pipedFrom !== undefined ? { pipedFrom: this.relocate(command.pipedFrom, at, field) } : {})
    }
  }

  private report (field: number, span: Span, message: string): void {
    const key = `${field}:${span.start}`
    const target = this.fields[field]
    if (this.reported.has(key) || target === undefined || this.reported.size >= MAX_WARNINGS * this.fields.length) return
    this.reported.add(key)
    this.findings.inString(target.path, target.value, span.start, span.end, 'warning', RULE, message)
  }
}

/** One word of a `command` + `args` step: the string itself, no shell in between. */
function argvWord (value: string): ShellWord {
  const spans = templateSpans(value)
  let text = ''
  const runs: number[] = []
  let at = 0
  for (const span of [...spans, { start: value.length, end: value.length, value: false }]) {
    if (span.start > at) { runs.push(text.length, at, span.start - at); text += value.slice(at, span.start) }
    if (span.value) { runs.push(text.length, span.start, 1); text += PLACEHOLDER }
    at = span.end
  }
  const templates = spans.filter((s) => s.value).map((s) => ({ start: s.start, end: s.end }))
  return { start: 0, end: value.length, literal: spans.length === 0 ? value : undefined, templates, vars: [], text, origin: originOf(runs, text.length), quoted: false }
}

/**
 * Warns (`template/script-injection`) wherever a value from outside reaches an interpreter's
 * script text: `sed`'s script, `awk`'s program, `python -c`, `sh -c`, `perl -e`, `jq`'s filter,
 * the program an interpreter reads from a here-document, … through `{{ }}` or through a variable
 * set from one (`FIND: "{{ inputs.find }}"` read as `sed "s/$FIND/…/"`). Shell quoting keeps a
 * value one word; in script text it is still code. `mode` is `shell` for a `run` script (one
 * field) and `argv` for a `command` and its `args`.
 */
export function checkScriptInjection (findings: Findings, templates: TemplateEngine, fields: readonly Field[], mode: 'shell' | 'argv', scope: TaintScope): void {
  if (!fields.some((f) => mentionsInterpreter(f.value))) return
  const values = fields.map((f) => outsideValues(templates, f.value, scope))
  if (scope.env.size === 0 && values.every((v) => v.size === 0)) return
  const check = new InjectionCheck(findings, fields, values, scope)
  if (mode === 'argv') {
    check.command(fields.map((f, i) => check.place(argvWord(f.value), i)), undefined, 0)
    return
  }
  const first = fields[0]
  if (first === undefined) return
  const commands = parseShell(first.value)
  check.learn(commands)
  for (const command of commands) check.command(command.words, command, 0)
}

/** Checks a step's or job template's `run`, or its `command` and `args`, for script injection. */
export function checkCommandInjection (findings: Findings, templates: TemplateEngine, at: JsonPath, raw: RawMap, scope: TaintScope): void {
  if (typeof raw.run === 'string') {
    checkScriptInjection(findings, templates, [{ path: [...at, 'run'], value: raw.run }], 'shell', scope)
  } else if (typeof raw.command === 'string') {
    const args = asList(raw.args).flatMap((arg, i) => typeof arg === 'string' ? [{ path: [...at, 'args', i], value: arg }] : [])
    checkScriptInjection(findings, templates, [{ path: [...at, 'command'], value: raw.command }, ...args], 'argv', scope)
  }
}
