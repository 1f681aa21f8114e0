import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js'
import { ajvClass, load } from './lazy.js'
import { packageRoot } from './package-root.js'
import type { Problem } from '../interfaces/problem.js'
import type { JsonPath, YamlSource } from './source.js'
import { didYouMean, listNames } from './suggest.js'

/** The folder holding the published JSON schemas. */
export function schemaDir (): string {
  return path.join(packageRoot(), 'schemas')
}

export type SchemaKind = 'pipeline' | 'job'

/** Reads a published schema as JSON. */
export function readSchema (kind: SchemaKind): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(schemaDir(), `${kind}.schema.json`), 'utf8')) as Record<string, unknown>
}

/**
 * The validation functions of both schemas: the code `npm run build` generated from them
 * (tools/build-schemas.mjs), or, when running from source (or before a build), compiled now with
 * the same options.
 */
export function compileSchemas (): Record<SchemaKind, ValidateFunction> {
  if (!import.meta.url.endsWith('.ts')) {
    try {
      return load(path.join(packageRoot(), 'dist', 'pipeline', 'schema-validators.cjs')) as Record<SchemaKind, ValidateFunction>
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err
    }
  }
  const Ajv2020 = ajvClass()
  const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true })
  ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'string' })
  ajv.addSchema(readSchema('pipeline'), 'pipeline.schema.json')
  ajv.addSchema(readSchema('job'), 'job.schema.json')
  return {
    pipeline: ajv.getSchema('pipeline.schema.json') as ValidateFunction,
    job: ajv.getSchema('job.schema.json') as ValidateFunction
  }
}

/** Splits a JSON pointer into a path; all-digit segments become sequence indexes. */
function fromPointer (pointer: string): JsonPath {
  if (pointer === '') return []
  return pointer.slice(1).split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~')).map((s) => /^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s)
}

/** A readable name for a place in the document: `step 'build'`, `steps.build.timeout`. */
function describe (path: JsonPath): string {
  if (path.length === 0) return 'the top level'
  if (path.length === 2 && path[0] === 'steps') return `step '${String(path[1])}'`
  if (path.length === 2 && path[0] === 'inputs') return `input '${String(path[1])}'`
  return path.map((s, i) => typeof s === 'number' ? `[${s}]` : (i === 0 ? s : `.${s}`)).join('')
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', integer: 'a whole number', boolean: 'true or false', null: 'empty'
}

/** A value as a message shows it: short scalars quoted, anything else by its kind. */
function show (value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 57)}...` : value}'`
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return TYPE_NAMES[typeOf(value)] ?? typeOf(value)
}

function typeOf (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number' && Number.isInteger(value)) return 'integer'
  return typeof value
}

/** Converts ajv's errors into problems at exact positions, one readable message each. */
export function schemaProblems (errors: readonly ErrorObject[], source: YamlSource): Problem[] {
  const problems: Problem[] = []
  const seen = new Set<string>()
  const add = (problem: Problem): void => {
    const key = `${problem.path}|${problem.rule}|${problem.message}`
    if (!seen.has(key)) {
      seen.add(key)
      problems.push(problem)
    }
  }
  for (const err of errors) {
    const path = fromPointer(err.instancePath)
    const custom = (err.parentSchema as { errorMessage?: string } | undefined)?.errorMessage
    const params = err.params as Record<string, unknown>
    const propertyName = (err as { propertyName?: string }).propertyName
    if (err.keyword === 'if' || err.keyword === 'propertyNames') continue
    if (propertyName !== undefined) {
      add(source.problem([...path, propertyName], 'key', 'error', 'schema/name', `invalid name '${propertyName}' in ${describe(path)}: ${custom ?? err.message ?? 'not allowed'}`))
      continue
    }
    switch (err.keyword) {
      case 'additionalProperties': {
        const key = String(params.additionalProperty)
        const allowed = Object.keys((err.parentSchema as { properties?: object } | undefined)?.properties ?? {}).filter((k) => k !== '$schema')
        add(source.problem([...path, key], 'key', 'error', 'schema/unknown-key',
          `unknown key '${key}' in ${describe(path)}${didYouMean(key, allowed)}; allowed: ${allowed.join(', ')}`))
        break
      }
      case 'required':
        add(source.problem(path, 'key', 'error', 'schema/required', `${describe(path)} is missing the required key '${String(params.missingProperty)}'`))
        break
      case 'type': {
        const expected = String(params.type).split(',').map((t) => TYPE_NAMES[t] ?? t)
        const hint = typeOf(err.data) === 'object' && source.textAt(path, 2) === '{{' ? ': a value that starts with {{ must be quoted ("{{ … }}")' : ''
        add(source.problem(path, 'value', 'error', 'schema/type',
          `${describe(path)} must be ${custom === undefined ? expected.join(' or ') : custom.replace(/^must be /, '')}, got ${TYPE_NAMES[typeOf(err.data)] ?? typeOf(err.data)}${hint}`))
        break
      }
      case 'enum': {
        const allowed = (params.allowedValues as unknown[]).map(String)
        add(source.problem(path, 'value', 'error', 'schema/enum',
          `${describe(path)} must be one of ${listNames(allowed)}, got ${show(err.data)}${typeof err.data === 'string' ? didYouMean(err.data, allowed) : ''}`))
        break
      }
      case 'pattern':
        add(source.problem(path, 'value', 'error', 'schema/format', `${describe(path)} ${custom ?? `must match ${String(params.pattern)}`}, got ${show(err.data)}`))
        break
      default:
        add(source.problem(path, 'value', 'error', `schema/${err.keyword.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, `${describe(path)} ${custom ?? limitMessage(err)}`))
    }
  }
  return problems
}

/** Messages for the size and range keywords, in the words a pipeline author uses. */
function limitMessage (err: ErrorObject): string {
  const limit = Number((err.params as { limit?: number }).limit)
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`
  switch (err.keyword) {
    case 'minimum': return `must be at least ${limit}`
    case 'exclusiveMinimum': return `must be more than ${limit}`
    case 'maximum': return `must be at most ${limit}`
    case 'minLength': return limit === 1 ? 'must not be empty' : `must be at least ${plural(limit, 'character')} long`
    case 'maxLength': return `must be at most ${plural(limit, 'character')} long`
    case 'minItems': return `must have at least ${plural(limit, 'item')}`
    case 'minProperties': return `must have at least ${plural(limit, 'entry')}`.replace('entrys', 'entries')
    case 'uniqueItems': {
      const { i, j } = err.params as { i: number, j: number }
      return `lists the same value twice (items ${j + 1} and ${i + 1})`
    }
    default: return err.message ?? 'is invalid'
  }
}
