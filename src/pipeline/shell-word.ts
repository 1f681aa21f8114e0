import type { Span } from './template-spans.js'

/** A parameter expansion the shell performs: `$NAME`, `${NAME…}`, `$1`. */
export interface VarRef extends Span {
  readonly name: string
}

/** One word of a command, as far as a static look can tell. Offsets are in the parsed text. */
export interface ShellWord extends Span {
  /** The word's value when it is plain text (quotes removed, nothing expanded); undefined otherwise. */
  readonly literal: string | undefined
  /** The `{{ }}` expressions in the word that insert a value. */
  readonly templates: readonly Span[]
  /** The parameter expansions the shell performs in the word (not those inside single quotes). */
  readonly vars: readonly VarRef[]
  /**
   * The word after quote removal, with every expansion and template replaced by
   * {@link PLACEHOLDER}; `origin(i)` is where its i-th character is in the parsed text. A word
   * that is itself a script (`sh -c '…'`) is parsed again from this.
   */
  readonly text: string
  readonly origin: (index: number) => number
  /** Whether any of it was quoted or escaped (a here-document delimiter that is, expands nothing). */
  readonly quoted: boolean
}

/** What a command reads on standard input when the script writes it: a here-document or here-string. */
export interface ShellInput {
  readonly word: ShellWord
  /** Whether the shell expands `$VAR` in it (a here-document whose delimiter is not quoted, a here-string). */
  readonly expands: boolean
}

/** A simple command: its words (assignments before it left out) and where its input comes from. */
export interface ShellCommand {
  readonly words: readonly ShellWord[]
  readonly assignments: ReadonlyArray<{ readonly name: string, readonly value: ShellWord }>
  readonly stdin?: ShellInput
  /** The command before it in a pipeline (`a | b`: a, for b). */
  readonly pipedFrom?: ShellCommand
}

/** Stands for an expansion or a template in {@link ShellWord.text}. */
export const PLACEHOLDER = '\u0000'

/**
 * Where the characters of a text came from, as runs: `[textStart, sourceStart, length]` triples
 * (a word is mostly runs of plain characters, so this stays small).
 */
export function originOf (runs: readonly number[], length: number): (index: number) => number {
  return (index) => {
    const i = Math.max(0, Math.min(index, length - 1))
    let low = 0
    let high = runs.length / 3 - 1
    while (low < high) {
      const mid = (low + high + 1) >> 1
      if ((runs[mid * 3] as number) <= i) low = mid
      else high = mid - 1
    }
    return (runs[low * 3 + 1] ?? 0) + i - (runs[low * 3] ?? 0)
  }
}

/** Builds one word as the reader goes. */
export class WordBuilder {
  start: number
  literal = true
  quoted = false
  private readonly parts: string[] = []
  private length = 0
  private readonly runs: number[] = []
  templates: Span[] = []
  vars: VarRef[] = []

  constructor (start: number) { this.start = start }

  char (c: string, at: number): void {
    this.parts.push(c)
    const n = this.runs.length
    if (n > 0 && (this.runs[n - 2] as number) + (this.runs[n - 1] as number) === at && (this.runs[n - 3] as number) + (this.runs[n - 1] as number) === this.length) {
      this.runs[n - 1] = (this.runs[n - 1] as number) + 1
    } else {
      this.runs.push(this.length, at, 1)
    }
    this.length++
  }

  opaque (at: number): void {
    this.literal = false
    this.char(PLACEHOLDER, at)
  }

  build (end: number): ShellWord {
    const text = this.parts.join('')
    return { start: this.start, end, literal: this.literal ? text : undefined, templates: this.templates, vars: this.vars, text, origin: originOf(this.runs, this.length), quoted: this.quoted }
  }
}
