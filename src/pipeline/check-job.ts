import type { TemplateEngine } from '../interfaces/template.js'
import { checkBody } from './check-body.js'
import { checkCommandInjection } from './check-injection.js'
import { checkInputs, inputTypes } from './check-inputs.js'
import { checkTemplate } from './check-templates.js'
import type { ValidatorFiles } from './files.js'
import type { Findings } from './findings.js'
import type { NameScope } from './names.js'
import { asList, asMap, entries, type RawMap } from './raw.js'
import { envOf, inputsOf, type TaintScope } from './taint.js'

/** The names a job template's commands may read: its own inputs, env and outputs, and `run`. */
export function jobScope (raw: RawMap): NameScope {
  return {
    inputs: inputTypes(raw.inputs),
    env: new Set(Object.keys(asMap(raw.env) ?? {})),
    outputs: new Set(Object.keys(asMap(raw.outputs) ?? {})),
    run: true,
    where: 'the job template'
  }
}

/** Semantic checks of a job template beyond its schema. */
export function checkJob (findings: Findings, templates: TemplateEngine, raw: RawMap, file: string, files: ValidatorFiles): void {
  checkBody(findings, [], raw, 'the job template', false)
  checkInputs(findings, templates, raw.inputs, file, { run: true, where: '' }, 'error', files)
  const scope = jobScope(raw)
  if (typeof raw.run === 'string') checkTemplate(findings, templates, ['run'], raw.run, scope, 'shell')
  if (typeof raw.command === 'string') checkTemplate(findings, templates, ['command'], raw.command, scope, 'plain')
  asList(raw.args).forEach((arg, i) => {
    if (typeof arg === 'string') checkTemplate(findings, templates, ['args', i], arg, scope, 'plain')
  })
  for (const [name, value] of entries(raw.env)) {
    if (typeof value === 'string') checkTemplate(findings, templates, ['env', name], value, { ...scope, env: new Set() }, 'plain')
  }
  const outside: TaintScope = { inputs: inputsOf(raw.inputs), env: new Map(), item: false }
  checkCommandInjection(findings, templates, [], raw, { ...outside, env: envOf(templates, raw.env, outside) })
}
