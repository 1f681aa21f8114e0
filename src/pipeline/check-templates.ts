import type { RenderMode, TemplateAnalysis, TemplateEngine } from '../interfaces/template.js'
import type { Findings } from './findings.js'
import { checkName, type NameScope } from './names.js'
import type { JsonPath } from './source.js'

/** Offset in `text` of a 1-based line and column. */
function offsetOf (text: string, line: number, column: number): number {
  let offset = 0
  for (let i = 1; i < line; i++) {
    const next = text.indexOf('\n', offset)
    if (next === -1) break
    offset = next + 1
  }
  return offset + column - 1
}

/**
 * Checks one templated string value: syntax, helpers, and that every name it reads exists at
 * that place. In `shell` mode it also warns about raw `{{{ }}}` and about values already inside
 * quotes (they are quoted for you).
 */
export function checkTemplate (findings: Findings, templates: TemplateEngine, path: JsonPath, value: string, scope: NameScope, mode: RenderMode): void {
  if (!templates.isTemplate(value)) return
  checkAnalysis(findings, templates.analyze(value), path, value, scope, mode)
}

/**
 * Checks an `if:` condition. Without `{{` it is one expression (`eq inputs.mode "full"`), checked
 * as `{{ … }}` with positions mapped back onto the text as written.
 */
export function checkCondition (findings: Findings, templates: TemplateEngine, path: JsonPath, value: string, scope: NameScope): void {
  if (templates.isTemplate(value)) {
    checkTemplate(findings, templates, path, value, scope, 'plain')
    return
  }
  const analysis = templates.analyze(`{{${value}}}`)
  const shift = <T extends { start: number, end: number, column: number }>(loc: T): T =>
    ({ ...loc, start: Math.max(0, loc.start - 2), end: Math.max(0, loc.end - 2), column: Math.max(1, loc.column - 2) })
  checkAnalysis(findings, {
    references: analysis.references.map((r) => ({ ...r, loc: shift(r.loc) })),
    raw: [],
    quoted: [],
    problems: analysis.problems.map((p) => ({ ...p, loc: shift(p.loc) }))
  }, path, value, scope, 'plain')
}

function checkAnalysis (findings: Findings, analysis: TemplateAnalysis, path: JsonPath, value: string, scope: NameScope, mode: RenderMode): void {
  for (const problem of analysis.problems) {
    const start = problem.loc.end > problem.loc.start ? problem.loc.start : offsetOf(value, problem.loc.line, problem.loc.column)
    const end = problem.loc.end > problem.loc.start ? problem.loc.end : start + 1
    findings.inString(path, value, start, end, 'error', problem.rule, problem.message)
  }
  for (const ref of analysis.references) {
    const problem = checkName(ref.parts, scope)
    if (problem !== undefined) findings.inString(path, value, ref.loc.start, ref.loc.end, 'error', problem.rule, problem.message)
  }
  if (mode !== 'shell') return
  for (const loc of analysis.raw) {
    findings.inString(path, value, loc.start, loc.end, 'warning', 'template/raw',
      `'${value.slice(loc.start, loc.end)}' inserts its value unquoted into a shell command: use {{ }} unless the value can never come from a file or message`)
  }
  for (const loc of analysis.quoted) {
    findings.inString(path, value, loc.start, loc.end, 'warning', 'template/quoted',
      `'${value.slice(loc.start, loc.end)}' is inside quotes: its value is escaped for them and stays data, but {{ }} alone is one word already, so the quotes are not needed`)
  }
}
