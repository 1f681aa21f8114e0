import path from 'node:path'
import { parseEnvelope } from '../common/dsse.js'
import { UsageError } from '../interfaces/errors.js'
import type { BacNode, RunRequest } from '../interfaces/node.js'
import type { Pipeline } from '../interfaces/pipeline.js'
import type { RunStore } from '../interfaces/run-store.js'
import { submittedJob } from '../pipeline/index.js'
import { openRunStore } from '../storage/index.js'
import { VERSION } from '../version.js'
import { openEmbeddedNode, type EmbeddedNode } from './embedded.js'
import { contentOps, historyOps, nodeRuns, runCounts } from './node-ops.js'
import { findRecord } from './provenance.js'
import { RunBoard } from './run-board.js'
import { EventHub } from './event-hub.js'
import { localRun } from './run-handle.js'
import { createValidator } from './validation.js'

export interface LocalNodeOptions {
  /** A Kubo daemon's RPC API to keep content in (`--ipfs-api`). @default as `openEmbeddedNode` chooses */
  readonly ipfsApi?: string
}

/** The pipeline a request to the data dir names (a file) or sends (text, as if it stood at `file`), validated as `bac validate` would. */
function requestedPipeline (request: RunRequest, cwd: string): Pipeline {
  const validation = request.pipeline !== undefined
    ? createValidator().validatePipelineFile(path.resolve(cwd, request.pipeline))
    : createValidator().validatePipelineText(path.resolve(cwd, request.file ?? 'api-pipeline.yml'), request.text ?? '')
  if (validation.value === undefined) {
    const first = validation.errors[0]
    throw new UsageError(`${validation.file}: not run, the pipeline has ${validation.errors.length} error${validation.errors.length === 1 ? '' : 's'}` +
      `${first !== undefined ? `; the first: ${first.line}:${first.column} ${first.message}` : ''} (bac validate shows them all)`)
  }
  return validation.value
}

/**
 * The data dir itself as a node, when none serves on it: its run history read directly (no node
 * needs to run for that), and its content store and engine opened when a command needs them.
 * Runs it starts run in this process; it is on no network and takes no messages.
 */
export function localNode (dataDir: string, options: LocalNodeOptions = {}): BacNode {
  let history: RunStore | undefined
  let embedded: Promise<EmbeddedNode> | undefined
  let runsHere: { board: RunBoard, ops: ReturnType<typeof nodeRuns> } | undefined
  const runs = (): RunStore => {
    if (history === undefined) {
      history = openRunStore({ file: path.join(dataDir, 'runs.db') })
      history.recoverInterrupted()
    }
    return history
  }
  const node = async (): Promise<EmbeddedNode> => await (embedded ??= openEmbeddedNode({ dataDir, ...(options.ipfsApi !== undefined ? { ipfsApi: options.ipfsApi } : {}) }))
  const served = (what: string): UsageError => new UsageError(`no bac node is serving on ${dataDir}: ${what}; start one with bac serve (or bac devstack), or give --node <url>`)
  const started = async (): Promise<ReturnType<typeof nodeRuns>> => {
    const opened = await node()
    runsHere ??= (() => {
      const board = new RunBoard()
      return {
        board,
        ops: nodeRuns({
          node: opened,
          board,
          cwdOf: (request) => path.resolve(request.cwd ?? process.cwd()),
          pipelineOf: requestedPipeline,
          outputsOf: (request, cwd) => typeof request.outputsDir === 'string' ? path.resolve(cwd, request.outputsDir) : request.outputsDir,
          emit: (event) => { hub.publish(event) },
          cancelQueued: (run) => {
            if (opened.runs.cancelWaiting(run.id, 'cancelled before it started')) return true
            if (run.status === 'running') {
              throw new UsageError(`run ${run.id} runs in another bac process, which no node serves: it is cancelled with Ctrl-C there; give --node <url> for a node elsewhere`)
            }
            return false
          }
        })
      }
    })()
    return runsHere.ops
  }
  const hub = new EventHub()
  return {
    where: dataDir,
    triggers: async () => [],
    watch: async (signal) => hub.watch(signal),
    info: async () => ({ id: (await node()).id, pipelines: [], topics: [] }),
    health: async () => {
      const opened = await node()
      return {
        ok: true,
        id: opened.id,
        version: VERSION,
        uptimeMs: Math.round(performance.now()),
        runs: runCounts(runs())
      }
    },
    peers: async () => { throw served('the data dir alone is on no network') },
    ...historyOps(runs),
    ...contentOps(async () => (await node()).store),
    provenance: async (id) => parseEnvelope((await findRecord(await node(), id)).envelope),
    startRun: async (request) => await (await started()).startRun(request),
    follow: (id, signal) => (async function * () { yield * (await started()).follow(id, signal) })(),
    cancelRun: async (id) => await (await started()).cancelRun(id),
    run: (start, runOptions = {}) => localRun(async (onEvent) => await (await node()).run(start.pipeline, {
      onEvent: (event) => { hub.publish(event); onEvent(event) },
      inputs: start.inputs,
      cwd: start.cwd,
      outputsDir: path.resolve(start.outputsDir),
      ...(start.concurrency !== undefined ? { concurrency: start.concurrency } : {}),
      ...(start.noCache === true ? { noCache: true } : {}),
      ...(start.resume !== undefined ? { resume: start.resume } : {}),
      ...(runOptions.signal !== undefined ? { signal: runOptions.signal } : {})
    })),
    submitJob: (job, runOptions = {}) => localRun(async (onEvent) => await (await node()).run(submittedJob({ cids: job.cids, command: job.command, cwd: process.cwd() }), {
      ...(runOptions.signal !== undefined ? { signal: runOptions.signal } : {}),
      onEvent: (event) => { hub.publish(event); onEvent(event) }
    })),
    sendMessages: async () => { throw served('messages go to a node serving pipelines with on.message') },
    close: async () => {
      hub.close()
      await runsHere?.board.stop()
      history?.close()
      if (embedded !== undefined) await (await embedded).close()
    }
  }
}
