import path from 'node:path'
import type { InputType } from '../interfaces/pipeline.js'
import type { Severity } from '../interfaces/problem.js'
import type { TemplateEngine } from '../interfaces/template.js'
import { checkDataRef } from './check-data.js'
import { checkTemplate } from './check-templates.js'
import { checkConstraints } from './constraints.js'
import type { ValidatorFiles } from './files.js'
import type { Findings } from './findings.js'
import type { NameScope } from './names.js'
import { asMap, entries } from './raw.js'

const TYPES: readonly string[] = ['file', 'cid', 'string', 'number', 'boolean']

/** Name to type of the well-formed inputs of an `inputs:` mapping. */
export function inputTypes (raw: unknown): Map<string, InputType> {
  const types = new Map<string, InputType>()
  for (const [name, spec] of entries(raw)) {
    const type = asMap(spec)?.type
    if (typeof type === 'string' && TYPES.includes(type)) types.set(name, type as InputType)
  }
  return types
}

/**
 * Checks declared inputs: defaults that are templates read only names known when a run starts,
 * literal file defaults exist (relative to the file that declares them), cid defaults parse,
 * `pattern` and `enum` are usable and allow a literal default, and `required` with a default is
 * pointed out.
 */
export function checkInputs (findings: Findings, templates: TemplateEngine, raw: unknown, file: string, scope: NameScope, missing: Severity, files: ValidatorFiles): void {
  checkConstraints(findings, raw)
  for (const [name, spec] of entries(raw)) {
    const map = asMap(spec)
    if (map === undefined) continue
    const at = ['inputs', name]
    const value = map.default
    if (map.required === true && value !== undefined) {
      findings.warn([...at, 'required'], 'key', 'input/required-with-default', `input '${name}' is required but has a default, which is then never used: drop one`)
    }
    if (typeof value !== 'string') continue
    checkTemplate(findings, templates, [...at, 'default'], value, { ...scope, where: `the default of input '${name}'` }, 'plain')
    if (map.type === 'file') checkDataRef(findings, [...at, 'default'], value, path.dirname(file), missing, files.kind)
    if (map.type === 'cid') checkDataRef(findings, [...at, 'default'], value, path.dirname(file), 'error', files.kind, true)
  }
}
