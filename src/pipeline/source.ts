import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments, type Document, type Node } from 'yaml'
import type { Problem, Severity } from '../interfaces/problem.js'

/** One segment of a JSON path: a mapping key or a sequence index. */
export type Segment = string | number
export type JsonPath = readonly Segment[]

/** How many aliases one document may expand (guards against "billion laughs" files). */
const MAX_ALIAS_COUNT = 100

/** Turns a JSON path into a JSON pointer: `['steps', 'a/b', 0]` → `/steps/a~1b/0`. */
export function toPointer (path: JsonPath): string {
  return path.map((s) => `/${String(s).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')
}

/**
 * A parsed YAML file that remembers where every key and value came from, so any problem found
 * in the data, by the schema or a semantic check, is reported at its line and column.
 */
export class YamlSource {
  readonly value: unknown
  private readonly lines: LineCounter

  private constructor (readonly file: string, readonly text: string, private readonly doc: Document.Parsed, lines: LineCounter) {
    this.lines = lines
    this.value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT })
  }

  /** Parses a file's text; YAML problems (syntax, duplicate keys, several documents) come back as data. */
  static parse (file: string, text: string): { source?: YamlSource, problems: Problem[] } {
    const lines = new LineCounter()
    // yaml's own uniqueKeys check compares each key with every earlier one (quadratic: a minute
    // for a pipeline of 70,000 steps); duplicateKeys finds the same keys with one set per mapping
    const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, strict: true, logLevel: 'error' })
    const problems: Problem[] = []
    const errorLines = new Set<number>()
    const at = (offset: number, severity: Severity, rule: string, message: string): void => {
      const { line, col } = lines.linePos(offset)
      if (rule === 'yaml/syntax') {
        // one syntax error explains a line; what the parser says after it is cascade
        if (errorLines.has(line)) return
        errorLines.add(line)
        if (/\{\{/.test(text.split('\n')[line - 1] ?? '')) message += '; a value containing {{ }} must be quoted: "echo {{ x }}"'
      }
      problems.push({ file, line: Math.max(line, 1), column: Math.max(col, 1), severity, rule, message, path: '' })
    }
    const list = Array.isArray(docs) ? docs : []
    for (const doc of list) {
      for (const err of doc.errors) at(err.pos[0], 'error', 'yaml/syntax', yamlMessage(err.message))
      for (const offset of duplicateKeys(doc)) at(offset, 'error', 'yaml/duplicate-key', duplicateKeyMessage(text, offset))
      for (const warn of doc.warnings) at(warn.pos[0], 'warning', 'yaml/syntax', yamlMessage(warn.message))
    }
    const second = list[1]
    if (second !== undefined) {
      at(second.range[0], 'error', 'yaml/multiple-documents', 'a file holds one pipeline: remove the second YAML document (after ---)')
    }
    const first = list[0]
    if (problems.some((p) => p.severity === 'error') || first === undefined) {
      if (first === undefined && problems.length === 0) at(0, 'error', 'yaml/empty', 'the file is empty')
      return { problems }
    }
    try {
      return { source: new YamlSource(file, text, first, lines), problems }
    } catch (err) {
      // toJS throws on excessive alias expansion
      const text = err instanceof Error ? err.message : String(err)
      at(0, 'error', 'yaml/syntax', text.charAt(0).toLowerCase() + text.slice(1))
      return { problems }
    }
  }

  /** The node at a path, or undefined when the path does not exist in the document. */
  node (path: JsonPath): Node | undefined {
    let node: unknown = this.doc.contents
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(this.doc)
      if (isMap(node)) {
        node = node.items.find((pair) => isScalar(pair.key) ? String(pair.key.value) === String(segment) : false)?.value ?? undefined
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment]
      } else {
        return undefined
      }
      if (node === undefined || node === null) return undefined
    }
    return node as Node
  }

  /** Where the key that holds the value at `path` is written (the item itself in a sequence). */
  private keyOffset (path: JsonPath): number | undefined {
    const last = path[path.length - 1]
    if (last === undefined) return this.doc.contents?.range[0]
    const parent = this.node(path.slice(0, -1))
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(last))
      const key = pair?.key
      if (isScalar(key) && key.range != null) return key.range[0]
    }
    return this.node(path)?.range?.[0]
  }

  /**
   * The 1-based position of a path's key (`which: 'key'`) or value. A path that does not exist
   * falls back to its nearest existing ancestor.
   */
  position (path: JsonPath, which: 'key' | 'value'): { line: number, column: number } {
    for (let depth = path.length; depth >= 0; depth--) {
      const sub = path.slice(0, depth)
      const exact = depth === path.length
      const offset = which === 'key' || !exact ? this.keyOffset(sub) : (this.node(sub)?.range?.[0] ?? this.keyOffset(sub))
      if (offset !== undefined) return this.pos(offset)
    }
    return { line: 1, column: 1 }
  }

  /** The source text where the value at `path` starts (up to `length` characters). */
  textAt (path: JsonPath, length: number): string {
    const start = this.node(path)?.range?.[0]
    return start === undefined ? '' : this.text.slice(start, start + length)
  }

  /**
   * Position of a piece of a string value: `start`..`end` are offsets in the parsed string.
   * Found by looking for the same text in the raw source of the scalar; escapes or folding that
   * change the text fall back to the value's start.
   */
  positionInString (path: JsonPath, value: string, start: number, end: number): { line: number, column: number } {
    const node = this.node(path)
    if (!isScalar(node) || node.range == null) return this.position(path, 'value')
    const piece = value.slice(start, end)
    const raw = this.text.slice(node.range[0], node.range[1])
    const nth = countOccurrences(value.slice(0, start), piece)
    let index = -1
    for (let i = 0; i <= nth; i++) {
      index = raw.indexOf(piece, index + 1)
      if (index === -1) break
    }
    return this.pos(node.range[0] + (index === -1 ? 0 : index))
  }

  /** Builds a problem at a path. */
  problem (path: JsonPath, which: 'key' | 'value', severity: Severity, rule: string, message: string): Problem {
    const { line, column } = this.position(path, which)
    return { file: this.file, line, column, severity, rule, message, path: toPointer(path) }
  }

  private pos (offset: number): { line: number, column: number } {
    const { line, col } = this.lines.linePos(offset)
    return { line: Math.max(line, 1), column: Math.max(col, 1) }
  }
}

function countOccurrences (text: string, piece: string): number {
  if (piece === '') return 0
  let count = 0
  for (let i = text.indexOf(piece); i !== -1; i = text.indexOf(piece, i + 1)) count++
  return count
}

/**
 * Where a mapping repeats a key: the offset of each repeat. Scalar keys are the same when their
 * values are (as yaml's uniqueKeys compares them); other keys never are. Walked without recursion.
 */
function duplicateKeys (doc: Document.Parsed): number[] {
  const offsets: number[] = []
  const pending: unknown[] = [doc.contents]
  while (pending.length > 0) {
    const node = pending.pop()
    if (isMap(node)) {
      const seen = new Set<unknown>()
      for (const pair of node.items) {
        const key = pair.key
        if (isScalar(key) && !Number.isNaN(key.value)) {
          if (seen.has(key.value)) offsets.push(key.range?.[0] ?? 0)
          else seen.add(key.value)
        }
        pending.push(pair.key, pair.value)
      }
    } else if (isSeq(node)) {
      for (const item of node.items) pending.push(item)
    }
  }
  return offsets
}

/** yaml's messages end with " at line N, column M" and a source excerpt; the position is ours. */
function yamlMessage (message: string): string {
  const text = message.replace(/ at line \d+, column \d+[\s\S]*$/, '').trim()
  return text.charAt(0).toLowerCase() + text.slice(1)
}

/** Names the repeated key, read from the source at the error's offset. */
function duplicateKeyMessage (text: string, offset: number): string {
  const key = /^\s*("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:,{}\n]+?)\s*:/.exec(text.slice(offset))?.[1]
  return key === undefined
    ? 'duplicate key: a key appears twice in the same mapping; keep one'
    : `duplicate key ${key.startsWith('"') || key.startsWith("'") ? key : `'${key}'`}: it is already set in this mapping; keep one`
}
