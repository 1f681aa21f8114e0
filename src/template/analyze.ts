import type { TemplateAnalysis, TemplateLocation, TemplateReference } from '../interfaces/template.js'
import { LineIndex } from './locations.js'
import { shellContexts, templateSpans } from './shell-context.js'
import type { HelperTable, HbsNode, HbsProgram } from './hbs-types.js'

type Problem = TemplateAnalysis['problems'][number]

/** A block scope: `#each`/`#with` change `this`; block params (`as |x|`) name locals. */
interface Scope { readonly changesContext: boolean, readonly params: ReadonlySet<string> }

/**
 * Walks a parsed handlebars program and lists every name it reads from the run context, the raw
 * (unquoted) expressions, and the problems a static check can see.
 */
export class TemplateAnalyzer {
  private readonly refs: TemplateReference[] = []
  private readonly raw: TemplateLocation[] = []
  private readonly escaped: TemplateLocation[] = []
  private readonly problems: Problem[] = []
  private readonly lines: LineIndex

  constructor (private readonly source: string, private readonly helpers: HelperTable) {
    this.lines = new LineIndex(source)
  }

  run (program: HbsProgram): TemplateAnalysis {
    this.program(program, [])
    const contexts = shellContexts(this.source, templateSpans(this.source))
    const isQuoted = (start: number): boolean => { const kind = contexts.get(start)?.kind; return kind === 'double' || kind === 'single' }
    return {
      references: this.refs,
      raw: this.raw,
      quoted: this.escaped.filter((loc) => isQuoted(loc.start)),
      problems: this.problems
    }
  }

  private program (program: HbsProgram | undefined, scopes: Scope[]): void {
    for (const statement of program?.body ?? []) this.statement(statement, scopes)
  }

  private statement (node: HbsNode, scopes: Scope[]): void {
    const loc = this.lines.location(node.loc)
    switch (node.type) {
      case 'MustacheStatement':
        ;(node.escaped === true ? this.escaped : this.raw).push(loc)
        this.call(node, scopes, false)
        return
      case 'BlockStatement': {
        this.call(node, scopes, true)
        const name = node.path?.original ?? ''
        const changesContext = name === 'each' || name === 'with'
        this.program(node.program, [...scopes, { changesContext, params: new Set(node.program?.blockParams ?? []) }])
        this.program(node.inverse, scopes)
        return
      }
      case 'PartialStatement':
      case 'PartialBlockStatement':
        this.problems.push({ rule: 'template/partial', message: 'partials ({{> name}}) are not supported in bac templates', loc })
        return
      case 'DecoratorBlock':
      case 'Decorator':
        this.problems.push({ rule: 'template/decorator', message: 'decorators ({{* name}}) are not supported in bac templates', loc })
    }
  }

  /** A mustache, block or sub-expression: a helper call, or a plain name when it has no arguments. */
  private call (node: HbsNode, scopes: Scope[], isBlock: boolean): void {
    const params = node.params ?? []
    const pairs = node.hash?.pairs ?? []
    const path = node.path
    if (path === undefined) return
    const hasArgs = params.length > 0 || pairs.length > 0
    if (path.type === 'PathExpression') {
      const name = path.original ?? ''
      const isHelper = path.parts?.length === 1 && path.depth === 0 && path.data !== true && this.helpers.has(name)
      if (isHelper) {
        if (isBlock && !this.helpers.isBlock(name)) {
          this.problems.push({
            rule: 'template/unknown-helper',
            message: `'${name}' is not a block helper; block helpers: ${this.helpers.blockNames().join(', ')}`,
            loc: this.lines.location(path.loc)
          })
        }
      } else if (hasArgs || isBlock || node.type === 'SubExpression') {
        this.problems.push({ rule: 'template/unknown-helper', message: `unknown helper '${name}'; helpers: ${this.helpers.names().join(', ')}`, loc: this.lines.location(path.loc) })
      } else {
        this.path(path, scopes)
      }
    }
    for (const param of params) this.expression(param, scopes)
    for (const pair of pairs) if (pair.value !== undefined) this.expression(pair.value, scopes)
  }

  private expression (node: HbsNode, scopes: Scope[]): void {
    if (node.type === 'PathExpression') this.path(node, scopes)
    else if (node.type === 'SubExpression') this.call(node, scopes, false)
  }

  /** Records a context name, unless it is local to a block (block param, `this` inside each/with). */
  private path (node: HbsNode, scopes: Scope[]): void {
    let parts = [...(node.parts ?? [])]
    const original = node.original ?? ''
    if (node.data === true) {
      if (parts[0] !== 'root') return // @index, @key, @first, @last: locals of #each
      parts = parts.slice(1)
    } else {
      const depth = node.depth ?? 0
      // `../` climbs out of `#each`/`#with` contexts: a name that resolves inside one is local
      if (depth < scopes.filter((s) => s.changesContext).length) return
      if (depth === 0 && scopes.some((s) => s.params.has(parts[0] ?? ''))) return
    }
    if (parts.length === 0) {
      if (/^(this|\.)$/.test(original) && scopes.every((s) => !s.changesContext)) {
        this.problems.push({ rule: 'template/unknown-name', message: `'${original}' is the whole context; name a value such as inputs.<name>`, loc: this.lines.location(node.loc) })
      }
      return
    }
    this.refs.push({ parts, loc: this.lines.location(node.loc) })
  }
}
