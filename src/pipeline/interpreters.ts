import type { ShellWord } from './shell-word.js'

/** Options of one kind: short letters (`'e'` for `-e`) and long names (`'expression'` for `--expression`). */
interface Options { readonly short?: string, readonly long?: readonly string[] }

/** How a program that runs script text takes its arguments. */
interface Interpreter {
  /** The program's names (the basename of the command word). */
  readonly names: RegExp
  /** What its script text is called in messages: script, program, code, filter, SQL. */
  readonly noun: string
  /** Options whose argument is script text (`sed -e`, `python -c`, `perl -e`). */
  readonly code?: Options
  /** Options whose argument is a script file (`sed -f`): then no operand is script text. */
  readonly file?: Options
  /** Other options that take the next word (or an attached value) as their argument. */
  readonly arg?: Options
  /** Long options that take the next two words (`jq --arg name value`). */
  readonly arg2?: readonly string[]
  /** Short options whose value is only ever attached (`sed -i.bak`, `perl -l0`): the rest of the word. */
  readonly attached?: string
  /** Short flags that make the first operand script text (`sh -c`). */
  readonly codeFlag?: string
  /** Short options after which every word is an operand (`python -c`, `python -m`). */
  readonly ends?: string
  /** Which operand is script text when no code or file option is given. */
  readonly operand: 'first' | 'second' | 'none'
  /** Reads its program from standard input when it is given none (or the operand `-`). */
  readonly stdin?: boolean
  /** Options may follow operands (GNU getopt's permutation: sed, jq). */
  readonly permute?: boolean
  /** Long options are written with one dash (`sqlite3 -cmd`). */
  readonly singleDash?: boolean
  /** `+o` and the like are options too (the shells). */
  readonly plus?: boolean
  /** Its script text is a shell script, read again for what it runs. */
  readonly shell?: boolean
}

const SHELL: Interpreter = {
  names: /^(sh|bash|dash|zsh|ksh|mksh|ash|yash|posh)$/,
  noun: 'script',
  codeFlag: 'c',
  arg: { short: 'oO', long: ['rcfile', 'init-file'] },
  operand: 'none',
  stdin: true,
  plus: true,
  shell: true
}

/**
 * The programs whose arguments can be script text, and how to find it. A value from outside in
 * script text is code, whatever the shell quoting; after the script it is data.
 */
const INTERPRETERS: readonly Interpreter[] = [
  SHELL,
  {
    names: /^(g?sed|ssed|busybox-sed)$/,
    noun: 'script',
    code: { short: 'e', long: ['expression'] },
    file: { short: 'f', long: ['file'] },
    arg: { short: 'l', long: ['line-length'] },
    attached: 'i',
    operand: 'first',
    permute: true
  },
  {
    names: /^(awk|gawk|mawk|nawk|busybox-awk)$/,
    noun: 'program',
    code: { short: 'e', long: ['source'] },
    file: { short: 'fiE', long: ['file', 'include', 'exec'] },
    arg: { short: 'vFlW', long: ['assign', 'field-separator', 'load'] },
    operand: 'first'
  },
  { names: /^(python[0-9.]*|pypy[0-9.]*)$/, noun: 'code', code: { short: 'c' }, file: { short: 'm' }, arg: { short: 'WXQ' }, ends: 'cm', operand: 'none', stdin: true },
  { names: /^perl[0-9.]*$/, noun: 'code', code: { short: 'eE' }, attached: '0CdDFiIlmMxV', operand: 'none', stdin: true },
  {
    names: /^(ruby[0-9.]*|jruby|truffleruby)$/,
    noun: 'code',
    code: { short: 'e' },
    arg: { short: 'rICE', long: ['encoding', 'external-encoding', 'internal-encoding', 'enable', 'disable'] },
    attached: 'Fix0KTW',
    operand: 'none',
    stdin: true
  },
  {
    names: /^(node|nodejs|bun)$/,
    noun: 'code',
    code: { short: 'ep', long: ['eval', 'print'] },
    arg: { short: 'rC', long: ['require', 'import', 'loader', 'experimental-loader', 'conditions', 'input-type', 'env-file', 'title'] },
    ends: 'ep',
    operand: 'none',
    stdin: true
  },
  {
    names: /^(jq|gojq|jaq)$/,
    noun: 'filter',
    file: { short: 'f', long: ['from-file'] },
    arg: { short: 'L', long: ['indent'] },
    arg2: ['arg', 'argjson', 'slurpfile', 'rawfile'],
    operand: 'first',
    permute: true
  },
  { names: /^php[0-9.]*$/, noun: 'code', code: { short: 'rBRE' }, file: { short: 'fF' }, arg: { short: 'cdzt' }, operand: 'none', stdin: true },
  { names: /^(lua[0-9.]*|luajit)$/, noun: 'code', code: { short: 'e' }, arg: { short: 'l' }, operand: 'none', stdin: true },
  { names: /^Rscript$/, noun: 'code', code: { short: 'e' }, operand: 'none' },
  { names: /^julia$/, noun: 'code', code: { short: 'eE' }, operand: 'none' },
  {
    names: /^(sqlite3|duckdb)$/,
    noun: 'SQL',
    code: { short: 'cs', long: ['cmd'] },
    file: { long: ['init'] },
    arg: { long: ['separator', 'nullvalue', 'newline', 'vfs', 'mmap', 'pagecache', 'lookaside', 'heap', 'maxsize', 'escape'] },
    operand: 'second',
    stdin: true,
    singleDash: true
  },
  {
    names: /^psql$/,
    noun: 'SQL',
    code: { short: 'c', long: ['command'] },
    file: { short: 'f', long: ['file'] },
    arg: { short: 'dhpUvPoTLFR', long: ['dbname', 'host', 'port', 'username', 'variable', 'set', 'pset', 'output', 'log-file', 'field-separator', 'record-separator', 'table-attr'] },
    operand: 'none',
    stdin: true,
    permute: true
  },
  {
    names: /^(mysql|mariadb)$/,
    noun: 'SQL',
    code: { short: 'e', long: ['execute'] },
    arg: { short: 'uhPDS', long: ['user', 'host', 'port', 'database', 'socket'] },
    attached: 'p',
    operand: 'none',
    stdin: true,
    permute: true
  },
  { names: /^su$/, noun: 'command', code: { short: 'c', long: ['command'] }, arg: { short: 'sgG', long: ['shell', 'group', 'supp-group'] }, operand: 'none', shell: true }
]

/** Any interpreter's name (or eval) as a word of a text: without one, no text needs a closer look. */
const MENTION = new RegExp(`(?:^|[^\\w.-])(?:${[...INTERPRETERS.map((s) => s.names.source.replace(/^\^|\$$/g, '')), 'eval'].join('|')})(?![\\w.-])`)

/** Whether a text names an interpreter at all (a cheap test before reading it as a script). */
export function mentionsInterpreter (text: string): boolean {
  return MENTION.test(text)
}

/** A word that is script text, and how it got to be (`-e`, `its first argument`). */
export interface ScriptWord { readonly word: ShellWord, readonly how: string }

/** What a command's arguments make of it: the words that are script text, and whether its standard input is. */
export interface ScriptUse {
  readonly program: string
  readonly noun: string
  readonly shell: boolean
  readonly words: readonly ScriptWord[]
  /** Its program comes from standard input (no script given, or the operand `-`). */
  readonly stdin: boolean
}

/** The program a command word names: its basename, when the word is plain text. */
export function programName (word: ShellWord | undefined): string | undefined {
  const literal = word?.literal
  return literal === undefined ? undefined : literal.slice(literal.lastIndexOf('/') + 1)
}

const has = (list: string | undefined, c: string): boolean => list !== undefined && list.includes(c)

/** Reads an interpreter's arguments the way it does, and finds its script text. */
function classify (spec: Interpreter, program: string, args: readonly ShellWord[]): ScriptUse {
  const words: ScriptWord[] = []
  const operands: ShellWord[] = []
  let given = false
  let flagged = false
  let done = false
  for (let i = 0; i < args.length; i++) {
    const word = args[i] as ShellWord
    // an option with a value from a template (-F{{ x }}) is still an option
    const text = word.literal ?? (/^[-+][^\u0000]/.test(word.text) ? word.text : undefined)
    const option = !done && text !== undefined && text.length > 1 && (text.startsWith('-') || (spec.plus === true && text.startsWith('+')))
    if (!option) {
      operands.push(word)
      if (spec.permute !== true) done = true
      continue
    }
    if (text === '--') { done = true; continue }
    const long = text.startsWith('--') ? text.slice(2) : (spec.singleDash === true && text.length > 2 && text.startsWith('-') ? text.slice(1) : undefined)
    const longName = long?.split('=')[0]
    if (long !== undefined && longName !== undefined) {
      const attached = long.includes('=')
      const value = attached ? word : args[i + 1]
      if (spec.code?.long?.includes(longName) === true) {
        given = true
        if (value !== undefined) words.push({ word: value, how: `--${longName}` })
      } else if (spec.file?.long?.includes(longName) === true) {
        given = true
      } else if (spec.arg2?.includes(longName) === true) {
        i += 2
        continue
      } else if (spec.arg?.long?.includes(longName) !== true) {
        continue
      }
      if (!attached) i++
      continue
    }
    for (let k = 1; k < text.length; k++) {
      const c = text[k] as string
      const rest = text.slice(k + 1)
      if (has(spec.codeFlag, c)) { flagged = true; continue }
      if (has(spec.attached, c)) break
      const code = has(spec.code?.short, c)
      const file = has(spec.file?.short, c)
      if (!code && !file && !has(spec.arg?.short, c)) continue
      // node -pe 'code': the code is the next word, not the rest of the cluster
      const next = rest === '' || (code && rest.length === 1 && has(spec.code?.short, rest))
      const value = next ? args[i + 1] : word
      if (next) i++
      if (code || file) given = true
      if (code && value !== undefined) words.push({ word: value, how: `-${c}` })
      if (has(spec.ends, c)) done = true
      break
    }
  }
  let stdin = false
  if (flagged) {
    if (operands[0] !== undefined) words.push({ word: operands[0], how: `-${spec.codeFlag ?? 'c'}` })
  } else if (!given) {
    const at = spec.operand === 'first' ? 0 : (spec.operand === 'second' ? 1 : -1)
    const operand = operands[at]
    if (operand !== undefined) words.push({ word: operand, how: `its ${at === 0 ? 'first' : 'second'} argument` })
    stdin = spec.stdin === true && (spec.operand === 'second' ? operands.length < 2 : (operands.length === 0 || operands[0]?.literal === '-'))
  }
  return { program, noun: spec.noun, shell: spec.shell === true, words, stdin }
}

/**
 * What an interpreter command does with script text, or undefined when the command is not one
 * of the known interpreters. `eval` takes every argument as a shell script.
 */
export function scriptUse (words: readonly ShellWord[]): ScriptUse | undefined {
  const program = programName(words[0])
  if (program === undefined) return undefined
  if (program === 'eval') return { program, noun: 'command', shell: true, words: words.slice(1).map((word) => ({ word, how: 'its arguments' })), stdin: false }
  const spec = INTERPRETERS.find((s) => s.names.test(program))
  return spec === undefined ? undefined : classify(spec, program, words.slice(1))
}
