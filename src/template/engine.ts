import Handlebars from 'handlebars'
import { InvalidOptionError, TemplateError } from '../interfaces/errors.js'
import type { RenderMode, TemplateAnalysis, TemplateEngine } from '../interfaces/template.js'
import { TemplateAnalyzer } from './analyze.js'
import type { HelperTable, HbsProgram } from './hbs-types.js'
import { BLOCK_HELPERS, BUILTIN_HELPERS, HELPERS } from './helpers.js'
import { LineIndex } from './locations.js'
import { OUTPUT_HELPER, rewriteOutputs, type ContextOf } from './rewrite.js'
import { shellContexts, templateSpans, type ShellContext } from './shell-context.js'
import { formatValue } from './values.js'
import { renderError, syntaxError } from './errors.js'
import { makeStrict } from './strict.js'

/** How many compiled templates an engine keeps before it starts over. */
const DEFAULT_CACHE_SIZE = 1000

export interface TemplateEngineInit {
  /** @default 1000 */
  cacheSize?: number
}

type Compiled = (context: unknown) => string

/**
 * Creates an isolated, strict handlebars engine with bac's helpers.
 *
 * @example
 * const t = createTemplateEngine()
 * t.render('cat {{ inputs.f }}', { inputs: { f: "it's" } }, 'shell') // "cat 'it'\"'\"'s'"
 */
export function createTemplateEngine (init: TemplateEngineInit = {}): TemplateEngine {
  const cacheSize = init.cacheSize ?? DEFAULT_CACHE_SIZE
  if (!Number.isInteger(cacheSize) || cacheSize < 1) throw new InvalidOptionError('cacheSize', `must be a whole number of at least 1, got ${String(cacheSize)}`)
  const hbs = Handlebars.create()
  makeStrict(hbs)
  const names = [...BUILTIN_HELPERS, ...Object.keys(HELPERS)].sort()
  const blockNames: string[] = [...BLOCK_HELPERS]
  const table: HelperTable = {
    has: (name) => names.includes(name),
    isBlock: (name) => blockNames.includes(name),
    names: () => names,
    blockNames: () => blockNames
  }
  for (const [name, fn] of Object.entries(HELPERS)) hbs.registerHelper(name, fn)
  const caches: Record<RenderMode, Map<string, Compiled>> = { shell: new Map(), plain: new Map() }
  // analysis is pure in the template text, and the same templates recur across a project
  const analyses = new Map<string, TemplateAnalysis>()

  for (const mode of ['shell', 'plain'] as const) {
    hbs.registerHelper(`${OUTPUT_HELPER}_${mode}`, (value: unknown, options: { hash: { expr: string, raw: boolean, context?: string } }) =>
      formatValue(value, options.hash.expr, mode, options.hash.raw, options.hash.context === undefined ? undefined : JSON.parse(options.hash.context) as ShellContext))
  }

  function parse (source: string): HbsProgram {
    return hbs.parse(source) as unknown as HbsProgram
  }

  function compile (source: string, mode: RenderMode): Compiled {
    const cache = caches[mode]
    const hit = cache.get(source)
    if (hit !== undefined) return hit
    let program: HbsProgram
    try {
      program = parse(source)
    } catch (err) {
      throw syntaxError(err, source)
    }
    // in a shell script, each value is escaped for where it stands (a word, in quotes, in a here-document)
    const rewritten = rewriteOutputs(program, source, table, mode === 'shell' ? shellContextOf(source) : undefined)
    renameOutputHelper(rewritten, `${OUTPUT_HELPER}_${mode}`)
    const fn = hbs.compile(rewritten as unknown as hbs.AST.Program, { strict: true, noEscape: true, knownHelpersOnly: false }) as Compiled
    if (cache.size >= cacheSize) cache.clear()
    cache.set(source, fn)
    return fn
  }

  return {
    helpers: names,
    isTemplate: (source) => source.includes('{{'),
    analyze (source: string): TemplateAnalysis {
      const hit = analyses.get(source)
      if (hit !== undefined) return hit
      let analysis: TemplateAnalysis
      try {
        analysis = new TemplateAnalyzer(source, table).run(parse(source))
      } catch (err) {
        const e = syntaxError(err, source)
        const loc = { line: e.line ?? 1, column: e.column ?? 1, start: 0, end: 0 }
        analysis = { references: [], raw: [], quoted: [], problems: [{ rule: 'template/syntax', message: e.message, loc }] }
      }
      if (analyses.size >= cacheSize) analyses.clear()
      analyses.set(source, analysis)
      return analysis
    },
    render (source, context, mode) {
      const fn = compile(source, mode)
      try {
        return fn(context)
      } catch (err) {
        if (err instanceof TemplateError) throw err
        throw renderError(err, source)
      }
    }
  }
}

/** The context of each expression of a shell script, found by its start. */
function shellContextOf (source: string): ContextOf {
  const contexts = shellContexts(source, templateSpans(source))
  const lines = new LineIndex(source)
  return (node) => {
    const context = contexts.get(lines.location(node.loc).start)
    return context === undefined || (context.kind === 'word' && context.backquotes === undefined) ? undefined : JSON.stringify(context)
  }
}

function renameOutputHelper (program: HbsProgram, name: string): void {
  for (const node of program.body) {
    if (node.type === 'MustacheStatement' && node.path?.original === OUTPUT_HELPER) {
      node.path.original = name
      node.path.parts = [name]
    } else if (node.type === 'BlockStatement') {
      if (node.program !== undefined) renameOutputHelper(node.program, name)
      if (node.inverse !== undefined) renameOutputHelper(node.inverse, name)
    }
  }
}
