import type { ContentStore, PathScope } from '../interfaces/content-store.js'
import { InputError } from '../interfaces/errors.js'
import type { InputSpec, Scalar } from '../interfaces/pipeline.js'
import type { GivenInput } from '../interfaces/run-store.js'
import { resolveData, type DataRef } from './data.js'

/** An input's value once resolved: a scalar, null when unset, or content. */
export type InputValue = Scalar | null | DataRef

export interface InputSources {
  /** Values given by the user (strings from the command line, relative to `cwd`), or stored content. */
  readonly given: Readonly<Record<string, GivenInput>>
  readonly cwd: string
  /** Defaults are relative to the file that declares them. */
  readonly defaultsDir: string
  /** Renders a default that is a template. */
  readonly render: (template: string) => string
  readonly store: ContentStore
  /** Real folders every path read must lie in (a serving node's allowed folders); unset: any. */
  readonly within?: PathScope
  readonly signal?: AbortSignal
}

/** How inputs are added to the store: with the caller's signal and allowed folders. */
function storeOptions (sources: InputSources): { signal?: AbortSignal, within?: PathScope } {
  return { ...(sources.signal !== undefined ? { signal: sources.signal } : {}), ...(sources.within !== undefined ? { within: sources.within } : {}) }
}

const TRUE = new Set(['true', '1', 'yes', 'on'])
const FALSE = new Set(['false', '0', 'no', 'off', ''])

/** A value in a one-line error: control characters escaped, long text cut. */
function shown (text: string): string {
  const escaped = text.replace(/[\u0000-\u001f\u007f]/g, (c) => c === '\n' ? '\\n' : (c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))
  return escaped.length > 80 ? `${escaped.slice(0, 77)}...` : escaped
}

/**
 * Refuses a value outside the input's `enum` or not matching its `pattern` (the whole value, as
 * src/pipeline/constraints.ts checks literal defaults), before any step runs.
 */
function constrain (spec: InputSpec, value: string | number): string | number {
  if (spec.enum !== undefined && !spec.enum.some((v) => String(v) === String(value))) {
    throw new InputError(spec.name, `'${shown(String(value))}' is not one of the allowed values (${spec.enum.map((v) => shown(String(v))).join(', ')})`)
  }
  if (spec.pattern !== undefined && !new RegExp(`^(?:${spec.pattern})$`, 'u').test(String(value))) {
    throw new InputError(spec.name, `'${shown(String(value))}' does not match the pattern ${shown(spec.pattern)} (the whole value must match)`)
  }
  return value
}

async function convert (spec: InputSpec, raw: Scalar, baseDir: string, sources: InputSources): Promise<InputValue> {
  switch (spec.type) {
    case 'number': {
      const n = typeof raw === 'number' ? raw : Number(String(raw).trim())
      if (String(raw).trim() === '' || !Number.isFinite(n)) throw new InputError(spec.name, `'${shown(String(raw))}' is not a number`)
      return constrain(spec, n)
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw
      const text = String(raw).trim().toLowerCase()
      if (TRUE.has(text)) return true
      if (FALSE.has(text)) return false
      throw new InputError(spec.name, `'${String(raw)}' is not true or false`)
    }
    case 'string':
      return constrain(spec, String(raw))
    case 'file':
    case 'cid':
      return await resolveData(spec.name, String(raw), baseDir, sources.store, storeOptions(sources))
  }
}

/** Content a trigger already added (a dropped file): checked to be there, kept with its name. */
async function stored (spec: InputSpec, given: { cid: string, name: string }, sources: InputSources): Promise<InputValue> {
  if (spec.type !== 'file' && spec.type !== 'cid') throw new InputError(spec.name, `is a ${spec.type} input; it cannot take the content ${given.cid}`)
  const ref = await resolveData(spec.name, given.cid, sources.cwd, sources.store, storeOptions(sources))
  return { cid: ref.cid, name: given.name }
}

/**
 * Resolves declared inputs: a given value, else the default (rendered when it is a template),
 * else null, or an error when the input is required. Files are added to the store, CIDs checked.
 */
export async function resolveInputs (specs: Readonly<Record<string, InputSpec>>, sources: InputSources): Promise<Record<string, InputValue>> {
  const unknown = Object.keys(sources.given).filter((name) => specs[name] === undefined)
  if (unknown[0] !== undefined) {
    const names = Object.keys(specs)
    throw new InputError(unknown[0], `no such input; ${names.length === 0 ? 'this pipeline takes none' : `inputs: ${names.join(', ')}`}`)
  }
  const values: Record<string, InputValue> = {}
  for (const spec of Object.values(specs)) {
    const given = sources.given[spec.name]
    if (typeof given === 'object') {
      values[spec.name] = await stored(spec, given, sources)
    } else if (given !== undefined) {
      values[spec.name] = await convert(spec, given, sources.cwd, sources)
    } else if (spec.default !== undefined) {
      const raw = typeof spec.default === 'string' && spec.default.includes('{{') ? sources.render(spec.default) : spec.default
      values[spec.name] = await convert(spec, raw, sources.defaultsDir, sources)
    } else if (spec.required) {
      throw new InputError(spec.name, `is required: give --input ${spec.name}=<${spec.type === 'file' ? 'path' : spec.type}>`)
    } else {
      values[spec.name] = null
    }
  }
  return values
}
