import type { HelperTable, HbsNode, HbsProgram } from './hbs-types.js'

/** Where each output expression stands, for the formatting of its value (JSON of a `ShellContext`). */
export type ContextOf = (node: HbsNode) => string | undefined

/** The internal helper every output expression is routed through. */
export const OUTPUT_HELPER = '__bac_output'

/**
 * Rewrites each `{{ x }}` and `{{{ x }}}` into `{{ __bac_output x expr="x" raw=… }}` so that
 * formatting (shell quoting, JSON for lists, the undefined check) is the engine's, not
 * handlebars' HTML escaping. A helper call with arguments becomes a sub-expression argument.
 */
export function rewriteOutputs (program: HbsProgram, source: string, helpers: HelperTable, contextOf?: ContextOf): HbsProgram {
  for (const node of program.body) rewriteStatement(node, source, helpers, contextOf)
  return program
}

function rewriteStatement (node: HbsNode, source: string, helpers: HelperTable, contextOf?: ContextOf): void {
  if (node.type === 'BlockStatement') {
    if (node.program !== undefined) rewriteOutputs(node.program, source, helpers, contextOf)
    if (node.inverse !== undefined) rewriteOutputs(node.inverse, source, helpers, contextOf)
    return
  }
  if (node.type !== 'MustacheStatement' || node.path === undefined) return
  const path = node.path
  const params = node.params ?? []
  const hasArgs = params.length > 0 || (node.hash?.pairs.length ?? 0) > 0
  const callsHelper = path.type === 'PathExpression' && path.parts?.length === 1 && path.data !== true && helpers.has(path.original ?? '')
  const argument: HbsNode = hasArgs || callsHelper
    ? { type: 'SubExpression', path, params, hash: node.hash ?? { type: 'Hash', pairs: [] }, loc: node.loc ?? null }
    : path
  const text = expressionText(node, source)
  const context = contextOf?.(node)
  node.path = { type: 'PathExpression', data: false, depth: 0, parts: [OUTPUT_HELPER], original: OUTPUT_HELPER, loc: node.loc ?? null }
  node.params = [argument]
  node.hash = {
    type: 'Hash',
    pairs: [
      { type: 'HashPair', key: 'expr', value: { type: 'StringLiteral', value: text, original: text, loc: node.loc ?? null } },
      { type: 'HashPair', key: 'raw', value: { type: 'BooleanLiteral', value: node.escaped !== true, loc: node.loc ?? null } },
      ...(context !== undefined ? [{ type: 'HashPair' as const, key: 'context', value: { type: 'StringLiteral' as const, value: context, original: context, loc: node.loc ?? null } }] : [])
    ]
  }
}

/** The expression's source without its braces, for error messages. */
function expressionText (node: HbsNode, source: string): string {
  const loc = node.loc
  if (loc == null) return String(node.path?.original ?? '?')
  const lines = source.split('\n')
  const text = loc.start.line === loc.end.line
    ? (lines[loc.start.line - 1] ?? '').slice(loc.start.column, loc.end.column)
    : String(node.path?.original ?? '?')
  return text.replace(/^\{\{[{&~]?\s*/, '').replace(/\s*~?\}?\}\}$/, '')
}
