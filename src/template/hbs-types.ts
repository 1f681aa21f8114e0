/**
 * The slice of the handlebars AST that bac reads and rewrites. Handlebars' own types describe a
 * union per node kind; bac walks nodes generically, so one loose shape serves everywhere.
 */
export interface HbsNode {
  type: string
  loc?: { start: { line: number, column: number }, end: { line: number, column: number } } | null
  path?: HbsNode
  params?: HbsNode[]
  hash?: { type: 'Hash', pairs: Array<{ type: 'HashPair', key: string, value?: HbsNode, loc?: HbsNode['loc'] }>, loc?: HbsNode['loc'] }
  escaped?: boolean
  program?: HbsProgram
  inverse?: HbsProgram
  parts?: string[]
  original?: string
  depth?: number
  data?: boolean
  value?: unknown
  [key: string]: unknown
}

export interface HbsProgram {
  type: 'Program'
  body: HbsNode[]
  blockParams?: string[]
  loc?: HbsNode['loc']
}

/** What the analyzer and rewriter need to know of the helpers. */
export interface HelperTable {
  has: (name: string) => boolean
  isBlock: (name: string) => boolean
  names: () => string[]
  blockNames: () => string[]
}
