import path from 'node:path'
import {
  asRunEvent, cancelRun, createValidator, fetchContent, followRun, onExecutor, parseContentPath, readRegularFile, RUN_ID_PATTERN, startRun, UnsafeContentError, UsageError, writeCarOut,
  type NodeTarget, type Pipeline, type RunStatus
} from '../../index.js'
import { EXIT } from '../exit.js'
import { displayPath, formatText } from '../format.js'
import type { Io } from '../io.js'
import { LiveView } from '../live-view.js'
import { cancellable, exitFor, withNode } from '../node-session.js'
import { nodeTarget } from './node.js'
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
  const pipeline = options.executor !== undefined ? onExecutor(validation.value, options.executor, options.image) : validation.value
  if (options.image !== undefined && options.executor === undefined) throw new UsageError('--image is for the vm executor: add --executor vm')
  const target = options.resume === undefined ? await nodeTarget(options) : undefined
  if (target !== undefined) return await runOnNode(target, file, validation.value, inputs, options, concurrency, io)
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
      if (outcome.provenanceCid !== undefined) io.err(`signed record ${outcome.provenanceCid}: bac verify ${outcome.resultCid}\n`)
    }
    return exitFor(outcome.status)
  }))
}

/**
 * `bac run` on a running node (`--node`, `$BAC_NODE`, or the node serving on the data dir): the
 * node runs it, with its peers; its events are followed here, and the result is fetched from it
 * into `--outputs` (default ./outputs) as `<run-id>/`. Ctrl-C cancels it on the node. The node
 * gets the pipeline's text and where it stands; paths in it and in file inputs are the node's to
 * check against the folders it allows.
 */
async function runOnNode (node: NodeTarget, file: string, pipeline: Pipeline, inputs: Record<string, string>, options: RunCommandOptions, concurrency: number | undefined, io: Io): Promise<number> {
  const cwd = process.cwd()
  const text = (await readRegularFile(file, 64 * 1024 * 1024, 'a pipeline')).toString('utf8')
  // relative file paths are the caller's: the node reads them (on this machine) by their full path
  const given = Object.fromEntries(Object.entries(inputs).map(([name, value]) => [name, pipeline.inputs[name]?.type === 'file' && !value.startsWith('/ipfs/') ? path.resolve(cwd, value) : value]))
  const { runId } = await startRun(node, {
    text,
    file: path.resolve(file),
    inputs: given,
    // the result is fetched from the node below, not written by it into a folder of this machine
    outputsDir: null,
    ...(options.cache === false ? { noCache: true } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(options.executor !== undefined ? { executor: options.executor } : {}),
    ...(options.image !== undefined ? { image: options.image } : {})
  })
  if (typeof runId !== 'string' || !RUN_ID_PATTERN.test(runId)) throw new UnsafeContentError('the node\'s answer', `names the run ${JSON.stringify(String(runId).slice(0, 80))}, which is not a run id`)
  const render = options.json !== true && io.interactive === true ? new LiveView(io).onEvent : eventRenderer(io, options.json === true)
  let end: { status: RunStatus, resultCid?: string } | undefined
  return await cancellable(io, async (signal) => {
    signal.addEventListener('abort', () => { void cancelRun(node, runId).catch((err: unknown) => { io.err(`bac: ${(err as Error).message}\n`) }) }, { once: true })
    await followRun(node, runId, (raw) => {
      // the node's words are checked and shown, never obeyed (a step's own output stays as it printed it)
      const event = asRunEvent(raw)
      render(event)
      if (event.type === 'run:end') end = event
    })
    if (end === undefined) {
      io.err(`bac: the node at ${node.url} stopped sending before run ${runId} ended; bac job describe ${runId} --node ${node.url} tells how it went\n`)
      return EXIT.failed
    }
    if (end.resultCid !== undefined) {
      parseContentPath(end.resultCid)
      const destination = path.join(path.resolve(options.outputs ?? 'outputs'), runId)
      await writeCarOut(await fetchContent(node, end.resultCid), end.resultCid, destination)
      if (options.json !== true) {
        io.out(`${end.resultCid}\n`)
        io.err(`result ${end.resultCid}, copied from ${node.url} to ${displayPath(destination)}\n`)
      }
    }
    return exitFor(end.status)
  })
}
