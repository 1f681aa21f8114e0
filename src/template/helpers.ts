import path from 'node:path'
import { TemplateError } from '../interfaces/errors.js'
import { ShellWords } from './shell-quote.js'
import { stringify } from './values.js'

type Helper = (...args: unknown[]) => unknown

/** Handlebars passes an options object as the last argument of every helper call. */
function args (all: unknown[]): unknown[] {
  return all.slice(0, -1)
}

function needString (name: string, value: unknown): string {
  if (value === null || value === undefined) {
    throw new TemplateError(`helper '${name}' got no value`)
  }
  return stringify(value)
}

function truthy (value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0
  return Boolean(value)
}

/**
 * The helpers pipelines can call. Each is small and pure; none touches the filesystem.
 * Built-in block helpers (`if`, `unless`, `each`, `with`, `lookup`) come from handlebars.
 */
export const HELPERS: Readonly<Record<string, Helper>> = {
  basename: (...all) => path.posix.basename(needString('basename', args(all)[0])),
  dirname: (...all) => path.posix.dirname(needString('dirname', args(all)[0])),
  extname: (...all) => path.posix.extname(needString('extname', args(all)[0])),
  json: (...all) => JSON.stringify(args(all)[0] ?? null),
  default: (...all) => {
    const [value, fallback] = args(all)
    return value === undefined || value === null || value === '' ? fallback : value
  },
  join: (...all) => {
    const [list, separator] = args(all)
    if (!Array.isArray(list)) throw new TemplateError("helper 'join' needs a list as its first argument")
    return list.map(stringify).join(typeof separator === 'string' ? separator : ',')
  },
  words: (...all) => {
    const [list] = args(all)
    if (!Array.isArray(list)) throw new TemplateError("helper 'words' needs a list")
    return new ShellWords(list.map(stringify))
  },
  lower: (...all) => needString('lower', args(all)[0]).toLowerCase(),
  upper: (...all) => needString('upper', args(all)[0]).toUpperCase(),
  trim: (...all) => needString('trim', args(all)[0]).trim(),
  eq: (...all) => { const [a, b] = args(all); return a === b },
  ne: (...all) => { const [a, b] = args(all); return a !== b },
  not: (...all) => !truthy(args(all)[0]),
  and: (...all) => args(all).every(truthy),
  or: (...all) => args(all).some(truthy)
}

/** Handlebars' own helpers that take a block (`{{#if}}…{{/if}}`). */
export const BLOCK_HELPERS = ['each', 'if', 'unless', 'with'] as const

/** Helpers handlebars itself provides: its block helpers, and `lookup`. */
export const BUILTIN_HELPERS = [...BLOCK_HELPERS, 'lookup'] as const
