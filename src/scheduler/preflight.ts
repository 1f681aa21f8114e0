import { realpathSync, statSync } from 'node:fs'
import path from 'node:path'
import { isContentPath } from '../common/cid.js'
import { assertInside, kindOf } from '../common/files.js'
import type { PathScope } from '../interfaces/content-store.js'
import type { QueueOptions } from '../interfaces/engine.js'
import { InputError, UserError } from '../interfaces/errors.js'
import type { Pipeline } from '../interfaces/pipeline.js'
import type { TemplateEngine } from '../interfaces/template.js'

/**
 * Checks, before a run is queued, the paths its pipeline inputs would read: each value given, and
 * each default (rendered from the trigger: a message's fields), that is not a CID must exist, be
 * a file or folder, and lie in `within`. Throws the input's `InputError`, so a bad message is refused (400) rather than
 * queued to fail. The run checks again as it reads (this is only the early answer).
 */
export function preflightInputs (pipeline: Pipeline, queue: Pick<QueueOptions, 'trigger' | 'inputs' | 'cwd'>, templates: TemplateEngine, within: PathScope): void {
  for (const spec of Object.values(pipeline.inputs)) {
    if (spec.type !== 'file' && spec.type !== 'cid') continue
    const given = queue.inputs?.[spec.name]
    let value: string | undefined
    let base = queue.cwd
    if (typeof given === 'string') {
      value = given
    } else if (given === undefined && typeof spec.default === 'string') {
      try {
        value = spec.default.includes('{{') ? templates.render(spec.default, { trigger: { time: '', ...queue.trigger }, run: { id: '', pipeline: pipeline.name, node: '' } }, 'plain') : spec.default
      } catch {
        continue
      }
      base = path.dirname(pipeline.file)
    }
    if (value === undefined || value === '' || isContentPath(value)) continue
    const absolute = path.resolve(base, value)
    let real: string
    try {
      real = realpathSync(absolute)
    } catch {
      throw new InputError(spec.name, `${value} does not exist on this node (looked for ${absolute}); give a path or a CID`)
    }
    try {
      assertInside(absolute, real, within)
    } catch (err) {
      if (err instanceof UserError) throw new InputError(spec.name, err.message, { cause: err })
      throw err
    }
    const stats = statSync(real)
    if (!stats.isFile() && !stats.isDirectory()) throw new InputError(spec.name, `${value} is ${kindOf(stats)}: only files and folders are read as content`)
  }
}
