import path from 'node:path'
import { Channel } from '../common/channel.js'
import { UserError } from '../interfaces/errors.js'
import type { RunEvent, RunOutcome } from '../interfaces/engine.js'
import type { BacNode, RunEnd, RunHandle, RunRequest, RunResult, RunStart } from '../interfaces/node.js'
import { writeCarOut } from '../storage/car-out.js'
import { endOfEvent } from '../common/run-end.js'

/** How a run ended, as its outcome tells it. */
export function endOf (outcome: RunOutcome): RunResult {
  return {
    runId: outcome.runId,
    status: outcome.status,
    ...(outcome.resultCid !== undefined ? { resultCid: outcome.resultCid } : {}),
    ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}),
    ...(outcome.outputsDir !== undefined ? { outputsDir: outcome.outputsDir } : {}),
    ...(outcome.provenanceCid !== undefined ? { provenanceCid: outcome.provenanceCid } : {})
  }
}

/**
 * A run validated here, as a request to a node elsewhere: the pipeline's text and where it stands,
 * file inputs by their full path on this machine (the node checks them against the folders it
 * allows), and no folder of the node's to copy the result to (the caller fetches it).
 */
export function requestOf (start: RunStart): RunRequest {
  if (start.resume !== undefined) throw new UserError('--resume continues a run of the data dir: give --data-dir, not a node')
  const isPath = (name: string, value: string): boolean => start.pipeline.inputs[name]?.type === 'file' && !value.startsWith('/ipfs/')
  const inputs = Object.fromEntries(Object.entries(start.inputs).map(([name, value]) => [name, isPath(name, value) ? path.resolve(start.cwd, value) : value]))
  return {
    text: start.text,
    file: path.resolve(start.pipeline.file),
    inputs,
    outputsDir: null,
    ...(start.noCache === true ? { noCache: true } : {}),
    ...(start.concurrency !== undefined ? { concurrency: start.concurrency } : {}),
    ...(start.executor !== undefined ? { executor: start.executor } : {}),
    ...(start.image !== undefined ? { image: start.image } : {})
  }
}

/** A handle on a run this process runs: `run` reports each event and resolves with how the run ended. */
export function localRun (run: (onEvent: (event: RunEvent) => void) => Promise<RunOutcome>): RunHandle {
  const events = new Channel<RunEvent>()
  const ended = run((event) => { events.push(event) }).then(endOf)
  ended.then(() => { events.end() }, (err: unknown) => { events.fail(err) })
  return { events, ended }
}

/**
 * A handle on a run a node starts from a request, followed through its events to its end: a
 * signal that aborts asks the node to cancel it; with `copyTo`, its result is fetched from the
 * node, every block checked, into `<copyTo>/<run-id>/`.
 */
export function followedRun (
  node: Pick<BacNode, 'where' | 'startRun' | 'follow' | 'cancelRun' | 'exportCar'>,
  request: RunRequest,
  options: { readonly signal?: AbortSignal, readonly copyTo?: string } = {}
): RunHandle {
  const events = new Channel<RunEvent>()
  const { signal } = options
  const ended = (async (): Promise<RunResult> => {
    signal?.throwIfAborted()
    const runId = await node.startRun(request)
    const onAbort = (): void => { node.cancelRun(runId).catch(() => {}) }
    signal?.addEventListener('abort', onAbort, { once: true })
    if (signal?.aborted === true) onAbort()
    let end: RunEnd | undefined
    try {
      for await (const event of node.follow(runId)) {
        events.push(event)
        if (event.type === 'run:end') end = { ...endOfEvent(event), runId }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
    events.end()
    if (end === undefined) throw new UserError(`the node at ${node.where} stopped sending before run ${runId} ended; bac job describe ${runId} --node ${node.where} tells how it went`)
    if (end.resultCid === undefined || options.copyTo === undefined) return end
    const destination = path.join(path.resolve(options.copyTo), runId)
    await writeCarOut(node.exportCar(end.resultCid), end.resultCid, destination)
    return { ...end, outputsDir: destination }
  })()
  ended.catch((err: unknown) => { events.fail(err) })
  return { events, ended }
}
