import { createValidator, onExecutor, UsageError } from '../../index.js'
import { EXIT } from '../exit.js'
import { displayPath, formatText } from '../format.js'
import type { Io } from '../io.js'
import { LiveView } from '../live-view.js'
import { cancellable, exitFor, withBacNode } from '../node-session.js'
import { eventRenderer } from '../render.js'

export interface RunCommandOptions {
  input?: string[]
  concurrency?: string
  cache?: boolean
  resume?: string
  json?: boolean
  dataDir?: string
  outputs?: string
  node?: string
  token?: string
  executor?: string
  image?: string
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
 * `bac run <pipeline>`: validates, runs on the node the command acts on (`--node`, `$BAC_NODE`,
 * the node serving on the data dir, else an embedded node on the data dir), prints progress and
 * the result CID, and copies the result to `--outputs` (default ./outputs) as `<run-id>/`. A node
 * elsewhere gets the pipeline's text and where it stands; paths in it and in file inputs are the
 * node's to check against the folders it allows. Exit 0 when the run succeeded, 1 when it failed,
 * 2 when it could not start, 130 on Ctrl-C (which cancels it, on the node too).
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
  if (options.image !== undefined && options.executor === undefined) throw new UsageError('--image is for the vm executor: add --executor vm')
  const pipeline = options.executor !== undefined ? onExecutor(validation.value, options.executor, options.image) : validation.value
  // --resume continues a run of the data dir, whichever node serves it
  const nodeOptions = options.resume !== undefined ? { ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}), local: true } : options
  return await withBacNode(nodeOptions, async (node) => await cancellable(io, async (signal) => {
    const run = node.run({
      pipeline,
      text: validation.value?.text ?? '',
      inputs,
      cwd: process.cwd(),
      outputsDir: options.outputs ?? 'outputs',
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(options.cache === false ? { noCache: true } : {}),
      ...(options.resume !== undefined ? { resume: options.resume } : {}),
      ...(options.executor !== undefined ? { executor: options.executor } : {}),
      ...(options.image !== undefined ? { image: options.image } : {})
    }, { signal })
    const show = options.json !== true && io.interactive === true ? new LiveView(io).onEvent : eventRenderer(io, options.json === true)
    for await (const event of run.events) show(event)
    const end = await run.ended
    if (options.json !== true && end.resultCid !== undefined) {
      io.out(`${end.resultCid}\n`)
      io.err(`result ${end.resultCid}, copied${node.where.startsWith('http') ? ` from ${node.where}` : ''} to ${displayPath(end.outputsDir ?? '.')}\n`)
      if (end.provenanceCid !== undefined) io.err(`signed record ${end.provenanceCid}: bac verify ${end.resultCid}\n`)
    }
    return exitFor(end.status)
  }))
}
