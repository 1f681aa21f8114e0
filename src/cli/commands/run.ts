import path from 'node:path'
import { createValidator, UsageError } from '../../index.js'
import { EXIT } from '../exit.js'
import { displayPath, formatText } from '../format.js'
import type { Io } from '../io.js'
import { LiveView } from '../live-view.js'
import { cancellable, exitFor, withNode } from '../node-session.js'
import { eventRenderer } from '../render.js'

export interface RunCommandOptions {
  input?: string[]
  concurrency?: string
  cache?: boolean
  resume?: string
  json?: boolean
  dataDir?: string
  outputs?: string
}

/** `--input name=value` pairs into a map; the value may hold `=`. */
export function parseInputs (pairs: readonly string[]): Record<string, string> {
  const inputs: Record<string, string> = {}
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new UsageError(`--input takes name=value, got '${pair}'`)
    inputs[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return inputs
}

/**
 * `bac run <pipeline>`: validates, runs on an embedded node, prints progress and the result CID.
 * Exit 0 when the run succeeded, 1 when it failed, 2 when it could not start, 130 on Ctrl-C.
 */
export async function runCommand (file: string, options: RunCommandOptions, io: Io): Promise<number> {
  const concurrency = options.concurrency === undefined ? undefined : Number(options.concurrency)
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) throw new UsageError(`--concurrency must be a whole number of at least 1, got '${options.concurrency ?? ''}'`)
  const inputs = parseInputs(options.input ?? [])
  const validation = createValidator().validatePipelineFile(file)
  if (validation.value === undefined) {
    io.err(formatText(validation.problems, io.colors))
    io.err(`${file}: not run, the pipeline has ${validation.errors.length} error${validation.errors.length === 1 ? '' : 's'}\n`)
    return EXIT.usage
  }
  const pipeline = validation.value
  return await withNode(options.dataDir, async (node) => await cancellable(io, async (signal) => {
    const outcome = await node.run(pipeline, {
      inputs,
      ...(concurrency !== undefined ? { concurrency } : {}),
      noCache: options.cache === false,
      ...(options.resume !== undefined ? { resume: options.resume } : {}),
      ...(options.outputs !== undefined ? { outputsDir: path.resolve(options.outputs) } : {}),
      signal,
      onEvent: options.json !== true && io.interactive === true ? new LiveView(io).onEvent : eventRenderer(io, options.json === true)
    })
    if (options.json !== true && outcome.resultCid !== undefined) {
      io.out(`${outcome.resultCid}\n`)
      io.err(`result ${outcome.resultCid}, copied to ${displayPath(outcome.outputsDir ?? '.')}\n`)
    }
    return exitFor(outcome.status)
  }))
}
