import type { TemplateEngine } from '../interfaces/template.js'
import { constraintsOf } from './constraints.js'
import { asMap, entries } from './raw.js'
import { templateSpans } from './template-spans.js'

/**
 * What a place of a pipeline or job template reads from outside: values a user, a dropped file, a
 * message or an earlier step chooses, as opposed to what the pipeline's author wrote or bac makes.
 */
export interface TaintScope {
  /** The inputs readable there: type, and whether `pattern` or `enum` constrains the value. */
  readonly inputs: ReadonlyMap<string, { readonly type: string, readonly constrained: boolean }>
  /** Env variables set from outside values: name to the template that sets it. */
  readonly env: ReadonlyMap<string, string>
  /** Whether `item.value`, `.path` and `.name` come from outside (foreach over files or a rendered list). */
  readonly item: boolean
}

/** The inputs of an `inputs:` mapping as a taint scope sees them. */
export function inputsOf (raw: unknown): Map<string, { type: string, constrained: boolean }> {
  const inputs = new Map<string, { type: string, constrained: boolean }>()
  for (const [name, spec] of entries(raw)) {
    const map = asMap(spec)
    inputs.set(name, { type: typeof map?.type === 'string' ? map.type : 'string', constrained: constraintsOf(map) !== undefined })
  }
  return inputs
}

/** A scope's inputs with a step's own (mounted content) added. */
export function withMounts (inputs: TaintScope['inputs'], mounts: readonly string[]): TaintScope['inputs'] {
  if (mounts.length === 0) return inputs
  const all = new Map(inputs)
  for (const name of mounts) all.set(name, { type: 'mount', constrained: false })
  return all
}

/**
 * Whether a name a template reads comes from outside. Not from outside: numbers and booleans,
 * constrained inputs, CIDs, the paths bac makes (`inputs.<file>.path`, `outputs.*`), `run.*`,
 * `trigger.kind` and `.time`, a dropped file's `path` (where bac wrote its content out), `size`
 * and `cid`, a step's `status`. From outside: string inputs, file names, message fields, where a
 * file was dropped (`trigger.file.source`), steps' output paths, and env variables set from any of these.
 */
function outside (parts: readonly string[], scope: TaintScope): boolean {
  const [root, first, second, third] = parts
  switch (root) {
    case 'inputs': {
      if (first === undefined) return true
      const input = scope.inputs.get(first)
      if (input === undefined || input.constrained) return false
      if (input.type === 'string') return true
      return (input.type === 'file' || input.type === 'cid' || input.type === 'mount') && second === 'name'
    }
    case 'trigger':
      if (first === 'kind' || first === 'time') return false
      // a dropped file is content bac wrote out (its path holds its CID); its name and where it was dropped are not
      if (first === 'file') return second === 'name' || second === 'source'
      return true
    case 'steps':
      return second === undefined || (second === 'outputs' && third !== 'cid')
    case 'env':
      return first === undefined ? scope.env.size > 0 : scope.env.has(first)
    case 'item':
      return scope.item && first !== 'index'
    default:
      return false
  }
}

/**
 * The `{{ }}` expressions of a template that insert a value from outside: each one's start offset
 * to its text (shortened for messages). Empty for text that is not a template or does not parse.
 */
export function outsideValues (templates: TemplateEngine, value: string, scope: TaintScope): Map<number, string> {
  const found = new Map<number, string>()
  if (!templates.isTemplate(value)) return found
  const analysis = templates.analyze(value)
  if (analysis.problems.length > 0) return found
  const refs = analysis.references.filter((r) => outside(r.parts, scope)).map((r) => r.loc.start).sort((a, b) => a - b)
  if (refs.length === 0) return found
  // both in order of position: one pass over each
  let next = 0
  for (const span of templateSpans(value)) {
    while (next < refs.length && (refs[next] as number) < span.start) next++
    if (!span.value || next >= refs.length || (refs[next] as number) >= span.end) continue
    const text = value.slice(span.start, Math.min(span.end, span.start + 200)).replace(/\s+/g, ' ')
    found.set(span.start, text.length > 60 ? `${text.slice(0, 57)}...` : text)
  }
  return found
}

/** The env variables of an `env:` mapping whose values come from outside, added to `inherited`. */
export function envOf (templates: TemplateEngine, raw: unknown, scope: TaintScope): Map<string, string> {
  const env = new Map(scope.env)
  for (const [name, value] of entries(raw)) {
    env.delete(name)
    if (typeof value !== 'string') continue
    const origin = outsideValues(templates, value, scope).values().next().value
    if (origin !== undefined) env.set(name, origin)
  }
  return env
}
