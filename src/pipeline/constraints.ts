import type { Findings } from './findings.js'
import { asList, asMap, entries, type RawMap } from './raw.js'
import type { JsonPath } from './source.js'

/**
 * An input's `pattern` as the run applies it: the whole value must match (`^(?:pattern)$`, in
 * Unicode mode). The scheduler compiles the same expression (src/scheduler/inputs.ts).
 */
export function compilePattern (pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`, 'u')
}

/** A value or pattern in a one-line message: control characters escaped, long text cut. */
export function shown (text: string): string {
  const escaped = text.replace(/[\u0000-\u001f\u007f]/g, (c) => c === '\n' ? '\\n' : (c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))
  return escaped.length > 80 ? `${escaped.slice(0, 77)}...` : escaped
}

/** A pattern compiled, or the reason it does not compile (from the engine's message). */
function compiled (pattern: string): RegExp | string {
  try {
    return compilePattern(pattern)
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    const reason = message.slice(message.lastIndexOf(': ') + 2)
    return reason.charAt(0).toLowerCase() + reason.slice(1)
  }
}

/** A declared input's constraints, when they are usable: what `allowed` checks a value against. */
export interface Constraints { readonly pattern?: RegExp, readonly source?: string, readonly values?: ReadonlyArray<string | number> }

/** The usable constraints of an input spec (a pattern that compiles, an enum list); undefined when none. */
export function constraintsOf (spec: RawMap | undefined): Constraints | undefined {
  if (spec === undefined) return undefined
  const pattern = spec.type === 'string' && typeof spec.pattern === 'string' ? compiled(spec.pattern) : undefined
  const values = Array.isArray(spec.enum) && (spec.type === 'string' || spec.type === 'number')
    ? spec.enum.filter((v): v is string | number => typeof v === (spec.type === 'string' ? 'string' : 'number'))
    : undefined
  const usable = pattern instanceof RegExp ? pattern : undefined
  if (usable === undefined && values === undefined) return undefined
  return { ...(usable !== undefined ? { pattern: usable, source: spec.pattern as string } : {}), ...(values !== undefined ? { values } : {}) }
}

/** Why a literal value is not allowed by the constraints, or undefined when it is. */
export function notAllowed (constraints: Constraints, value: unknown): string | undefined {
  if (constraints.values !== undefined && !constraints.values.some((v) => v === value || String(v) === String(value))) {
    return `'${shown(String(value))}' is not one of the allowed values (${constraints.values.map((v) => shown(String(v))).join(', ')})`
  }
  if (constraints.pattern !== undefined && !constraints.pattern.test(String(value))) {
    return `'${shown(String(value))}' does not match the pattern ${shown(constraints.source ?? '')} (the whole value must match)`
  }
  return undefined
}

/** Whether a value is a literal scalar (not a template rendered at run time, not a list or mapping). */
function isLiteral (value: unknown): value is string | number | boolean {
  return typeof value === 'number' || typeof value === 'boolean' || (typeof value === 'string' && !value.includes('{{'))
}

/**
 * Checks the constraints of declared inputs: `pattern` only on string inputs and compiling,
 * `enum` only on string or number inputs with items of that type, and a literal default allowed.
 */
export function checkConstraints (findings: Findings, raw: unknown): void {
  for (const [name, value] of entries(raw)) {
    const spec = asMap(value)
    if (spec === undefined) continue
    const at = ['inputs', name]
    const type = typeof spec.type === 'string' ? spec.type : 'untyped'
    if (typeof spec.pattern === 'string') {
      if (type !== 'string') {
        findings.error([...at, 'pattern'], 'key', 'input/pattern', `input '${name}' is a ${type} input: pattern is for string inputs${type === 'number' ? '; use enum for a list of numbers' : ''}`)
      } else {
        const error = compiled(spec.pattern)
        if (typeof error === 'string') findings.error([...at, 'pattern'], 'value', 'input/pattern', `the pattern of input '${name}' is not a valid regular expression: ${error}`)
      }
    }
    if (spec.enum !== undefined) {
      if (type !== 'string' && type !== 'number') {
        findings.error([...at, 'enum'], 'key', 'input/enum', `input '${name}' is a ${type} input: enum is for string and number inputs`)
      } else {
        asList(spec.enum).forEach((item, i) => {
          if (typeof item !== type && (typeof item === 'string' || typeof item === 'number')) {
            findings.error([...at, 'enum', i], 'value', 'input/enum', `input '${name}' is a ${type} input: its allowed values must be ${type}s, got ${shown(String(item))}`)
          }
        })
      }
    }
    const constraints = constraintsOf(spec)
    if (constraints !== undefined && spec.default !== undefined && isLiteral(spec.default)) {
      const reason = notAllowed(constraints, spec.default)
      if (reason !== undefined) findings.error([...at, 'default'], 'value', 'input/not-allowed', `the default of input '${name}': ${reason}`)
    }
  }
}

/** Checks literal `with` values against the constraints of the job template's inputs. */
export function checkWithConstraints (findings: Findings, at: JsonPath, given: unknown, jobInputs: unknown, where: string): void {
  for (const [name, value] of entries(given)) {
    const constraints = constraintsOf(asMap(asMap(jobInputs)?.[name]))
    if (constraints === undefined || !isLiteral(value)) continue
    const reason = notAllowed(constraints, value)
    if (reason !== undefined) findings.error([...at, 'with', name], 'value', 'with/not-allowed', `${where}: the job template's input '${name}': ${reason}`)
  }
}
