import type { InputType } from '../interfaces/pipeline.js'
import { didYouMean } from './suggest.js'

/**
 * The names a template may read at one place of a pipeline or job template. A root left
 * undefined is not available there at all.
 */
export interface NameScope {
  trigger?: { watch: boolean, message: boolean, messageFields?: ReadonlySet<string> }
  /** Input name to type; `mount` is a step's own read-only input. */
  inputs?: ReadonlyMap<string, InputType | 'mount'>
  steps?: { all: ReadonlySet<string>, needed: ReadonlySet<string>, outputs: ReadonlyMap<string, ReadonlySet<string>> }
  env?: ReadonlySet<string>
  run?: true
  outputs?: ReadonlySet<string>
  item?: 'items' | 'files'
  /** Where this is, for messages: `step 'build'`, `job template`. */
  where: string
}

export interface NameProblem { rule: string, message: string }

const RUN_FIELDS = ['id', 'pipeline', 'node', 'attempt']
const FILE_FIELDS = ['path', 'cid', 'name']
const TRIGGER_FIELDS = ['kind', 'time', 'file', 'message']
const TRIGGER_FILE_FIELDS = ['path', 'name', 'size', 'cid', 'source']

function unknown (name: string, candidates: readonly string[], where: string, hint = ''): NameProblem {
  return {
    rule: 'template/unknown-name',
    message: `unknown name '${name}' in ${where}${didYouMean(name.split('.').pop() ?? name, candidates)}${hint === '' ? `; known here: ${candidates.join(', ') || 'nothing'}` : `; ${hint}`}`
  }
}

/** Checks that a name read by a template exists at that place; returns the problem if not. */
export function checkName (parts: readonly string[], scope: NameScope): NameProblem | undefined {
  const [root, first, second, third] = parts
  const roots = (['trigger', 'inputs', 'steps', 'env', 'run', 'outputs', 'item'] as const).filter((r) => scope[r] !== undefined)
  const dotted = (n: number): string => parts.slice(0, n).join('.')
  const leaf = (n: number): NameProblem | undefined =>
    parts.length > n ? { rule: 'template/unknown-name', message: `'${dotted(n)}' has no field '${parts[n] ?? ''}' (in ${scope.where})` } : undefined
  switch (root) {
    case 'trigger': {
      const t = scope.trigger
      if (t === undefined) break
      if (first === undefined) return undefined
      if (!TRIGGER_FIELDS.includes(first)) return unknown(dotted(2), TRIGGER_FIELDS.map((f) => `trigger.${f}`), scope.where)
      if (first === 'file') {
        if (!t.watch) return { rule: 'template/unknown-name', message: "'trigger.file' is only set for runs started by a watch trigger; add on.watch, or use an input" }
        if (second !== undefined && !TRIGGER_FILE_FIELDS.includes(second)) return unknown(dotted(3), TRIGGER_FILE_FIELDS.map((f) => `trigger.file.${f}`), scope.where)
        return leaf(3)
      }
      if (first === 'message') {
        if (!t.message) return { rule: 'template/unknown-name', message: "'trigger.message' is only set for runs started by a message; add on.message" }
        if (second !== undefined && t.messageFields !== undefined && !t.messageFields.has(second)) {
          return unknown(dotted(3), [...t.messageFields].map((f) => `trigger.message.${f}`), scope.where, `the message schema allows: ${[...t.messageFields].join(', ')}`)
        }
        return undefined
      }
      return leaf(2)
    }
    case 'inputs': {
      const inputs = scope.inputs
      if (inputs === undefined) break
      if (first === undefined) return undefined
      const type = inputs.get(first)
      if (type === undefined) return unknown(dotted(2), [...inputs.keys()].map((n) => `inputs.${n}`), scope.where, inputs.size === 0 ? 'no inputs are declared here' : '')
      if (type === 'file' || type === 'cid' || type === 'mount') {
        if (second !== undefined && !FILE_FIELDS.includes(second)) return unknown(dotted(3), FILE_FIELDS.map((f) => `inputs.${first}.${f}`), scope.where)
        return leaf(3)
      }
      return leaf(2)
    }
    case 'steps': {
      const steps = scope.steps
      if (steps === undefined) break
      if (first === undefined) return undefined
      if (!steps.all.has(first)) return { rule: 'template/unknown-step', message: `'steps.${first}' names no step${didYouMean(first, steps.all)}` }
      if (!steps.needed.has(first)) return { rule: 'template/step-not-needed', message: `${scope.where} reads 'steps.${first}' but does not need it: add '${first}' to its needs` }
      if (second === undefined) return undefined
      if (second === 'status') return leaf(3)
      if (second !== 'outputs') return unknown(dotted(3), [`steps.${first}.outputs`, `steps.${first}.status`], scope.where)
      const names = ['cid', 'path', ...(steps.outputs.get(first) ?? [])]
      if (third !== undefined && !names.includes(third)) return unknown(dotted(4), names.map((n) => `steps.${first}.outputs.${n}`), scope.where)
      return leaf(4)
    }
    case 'env':
      if (scope.env === undefined) break
      if (first !== undefined && !scope.env.has(first)) return unknown(dotted(2), [...scope.env].map((n) => `env.${n}`), scope.where, scope.env.size === 0 ? 'declare it under env:' : '')
      return leaf(2)
    case 'run':
      if (scope.run === undefined) break
      if (first !== undefined && !RUN_FIELDS.includes(first)) return unknown(dotted(2), RUN_FIELDS.map((f) => `run.${f}`), scope.where)
      return leaf(2)
    case 'outputs': {
      if (scope.outputs === undefined) break
      const names = ['path', ...scope.outputs]
      if (first !== undefined && !names.includes(first)) return unknown(dotted(2), names.map((n) => `outputs.${n}`), scope.where)
      return leaf(2)
    }
    case 'item': {
      if (scope.item === undefined) break
      const names = scope.item === 'files' ? ['value', 'index', 'path', 'name'] : ['value', 'index']
      if (first !== undefined && !names.includes(first)) return unknown(dotted(2), names.map((n) => `item.${n}`), scope.where)
      return leaf(2)
    }
    default:
      // any other root (or none) is not a name templates have here
      break
  }
  return unknown(root ?? '', roots, scope.where, `names available here: ${roots.join(', ')}`)
}
