import { statSync } from 'node:fs'
import { mkdtemp, open, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Channel } from '../common/channel.js'
import type { ContentStore } from '../interfaces/content-store.js'
import type { RunEvent } from '../interfaces/engine.js'
import { ContentNotFoundError, MessageError, RunNotFoundError, UsageError, UserError } from '../interfaces/errors.js'
import type { BacNode, RunRequest } from '../interfaces/node.js'
import type { Pipeline } from '../interfaces/pipeline.js'
import { hasEnded, type RunRecord, type RunStore } from '../interfaces/run-store.js'
import { onExecutor, submittedJob } from '../pipeline/index.js'
import type { EmbeddedNode } from './embedded.js'
import type { RunBoard } from './run-board.js'
import { readRunLogs } from './run-logs.js'

/** A node's history, read from its run store: runs, one run with its steps and attempts, what they printed. */
export function historyOps (runs: () => RunStore): Pick<BacNode, 'listRuns' | 'describeRun' | 'logs'> {
  return {
    listRuns: async (options = {}) => runs().listRuns(options),
    describeRun: async (id) => {
      const run = runs().findRun(id)
      if (run === undefined) throw new RunNotFoundError(id)
      return { run, steps: runs().steps(run.id), executions: runs().executions(run.id) }
    },
    logs: async (id, options, onChunk) => {
      await readRunLogs(runs(), id, {
        ...(options.step !== undefined ? { step: options.step } : {}),
        follow: options.follow === true,
        ...(options.signal !== undefined ? { signal: options.signal } : {})
      }, onChunk)
    }
  }
}

/** Runs running and waiting, as a node's health says them (each counted up to 1,000). */
export function runCounts (runs: RunStore): { running: number, queued: number } {
  return { running: runs.listRuns({ status: 'running', limit: 1000 }).length, queued: runs.listRuns({ status: 'queued', limit: 1000 }).length }
}

/** A temporary folder, removed when `fn` is done with it. */
export async function withScratch<T> (fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bac-content-'))
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** A file's bytes written out by `write` into a scratch folder (a folder is refused). */
export async function * fileBytes (cid: string, write: (target: string) => Promise<void>): AsyncGenerator<Uint8Array> {
  yield * await withScratch(async (dir) => {
    const out = path.join(dir, 'content')
    await write(out)
    if ((await stat(out)).isDirectory()) throw new UserError(`${cid}: is a folder, not a file: use get to write it out`)
    const handle = await open(out)
    const chunks: Uint8Array[] = []
    try {
      for await (const chunk of handle.createReadStream()) chunks.push(chunk as Buffer)
    } finally {
      await handle.close()
    }
    return chunks
  })
}

/** A node's content store, opened when first needed. */
export function contentOps (store: () => Promise<ContentStore>): Pick<BacNode, 'addContent' | 'importCar' | 'exportCar' | 'catContent' | 'getContent' | 'listContent'> {
  return {
    listContent: async (path) => await (await store()).list(path),
    addContent: async (file) => await (await store()).addPath(file),
    importCar: async (car, signal) => await (await store()).importCar(car, signal !== undefined ? { signal } : {}),
    exportCar: (cid, signal) => (async function * () {
      const opened = await store()
      // a root it does not hold is said at once, not searched for among its peers and cut off later
      if (!await opened.has(cid, signal !== undefined ? { signal } : {})) throw new ContentNotFoundError(cid, 'this node does not hold it')
      yield * opened.exportCar(cid, signal !== undefined ? { signal } : {})
    })(),
    catContent: (cid) => (async function * () { yield * (await store()).cat(cid) })(),
    getContent: async (cid, target) => { await (await store()).get(cid, target) }
  }
}

export interface NodeRunsInit {
  readonly node: EmbeddedNode
  readonly board: RunBoard
  /** The folder a request runs in, checked (relative paths in it are resolved there). */
  readonly cwdOf: (request: RunRequest) => string
  /** The pipeline a request names or sends, validated; what it may read is the caller's to confine. */
  readonly pipelineOf: (request: RunRequest, cwd: string) => Pipeline
  /** Where a request's result is copied (null: nowhere), checked. */
  readonly outputsOf: (request: RunRequest, cwd: string) => string | null | undefined
  /** Tells what the node did (each run's events among them); the board is told already. */
  readonly emit?: (event: RunEvent) => void
  /** Cancels a run still waiting (in a queue here, or in the run store); false when it is not. @default the run store's */
  readonly cancelQueued?: (run: RunRecord) => boolean
}

/** Runs asked for by request on a node: started under a board, followed to their end, cancelled. */
export function nodeRuns (init: NodeRunsInit): Pick<BacNode, 'startRun' | 'follow' | 'cancelRun'> {
  const { node, board } = init
  return {
    startRun: async (request) => {
      const cwd = init.cwdOf(request)
      if (!statSync(cwd).isDirectory()) throw new UsageError(`cwd: ${request.cwd ?? cwd} is not a folder`)
      // the seed's job (bac job submit) is a pipeline of its own: one sandboxed step
      const pipeline = request.job !== undefined ? submittedJob({ cids: request.job.cids, command: request.job.command, cwd }) : init.pipelineOf(request, cwd)
      const outputsDir = init.outputsOf(request, cwd)
      const chosen = request.executor !== undefined ? onExecutor(pipeline, request.executor, request.image) : pipeline
      const inputs = request.inputs ?? {}
      node.engine.preflight(chosen, { trigger: { kind: 'manual' }, inputs, cwd })
      const record = node.engine.prepare(chosen, {
        trigger: { kind: 'manual' },
        cwd,
        inputs,
        ...(outputsDir !== undefined ? { outputsDir } : {}),
        ...(request.concurrency !== undefined ? { concurrency: request.concurrency } : {}),
        ...(request.noCache === true ? { noCache: true } : {})
      })
      node.runs.createRun(record)
      const onEvent = (event: RunEvent): void => {
        board.event(event)
        init.emit?.(event)
      }
      board.start(record.id, async (signal) => await node.engine.run(chosen, { queued: record.id, signal, onEvent }))
      return record.id
    },
    follow: (id, signal) => {
      const events = new Channel<RunEvent>()
      const closed = signal ?? new AbortController().signal
      const send = (event: RunEvent): void => { events.push(event) }
      void (async () => {
        if (await board.follow(id, send, closed)) return
        let run = node.runs.findRun(id)
        if (run === undefined) throw new RunNotFoundError(id)
        if (!hasEnded(run.status)) {
          // a triggered run still waiting (or run by another node on this data dir): followed
          // from its start here, or its end read from the run store once it has one
          const runId = run.id
          await board.arrival(runId, () => hasEnded(node.runs.getRun(runId)?.status), closed)
          if (closed.aborted || await board.follow(runId, send, closed)) return
          run = node.runs.getRun(runId) ?? run
        }
        // a run that ended before it was followed: its end, from the run store
        if (hasEnded(run.status)) {
          send({
            type: 'run:end',
            runId: run.id,
            status: run.status,
            durationMs: (run.endedAt ?? 0) - (run.startedAt ?? 0),
            ...(run.resultCid !== undefined ? { resultCid: run.resultCid } : {}),
            ...(run.reason !== undefined ? { reason: run.reason } : {}),
            ...(run.provenanceCid !== undefined ? { provenanceCid: run.provenanceCid } : {})
          })
        }
      })().then(() => { events.end() }, (err: unknown) => { events.fail(err) })
      return events
    },
    cancelRun: async (id) => {
      const run = node.runs.findRun(id)
      if (run === undefined) throw new RunNotFoundError(id)
      // a run recorded as ended has ended, even while its last moments are still being let go
      if (hasEnded(run.status)) throw new MessageError(409, `run ${run.id} is ${run.status}: it is neither running nor waiting on this node`)
      if (board.cancel(run.id)) return run.id
      if (init.cancelQueued !== undefined ? init.cancelQueued(run) : node.runs.cancelWaiting(run.id, 'cancelled before it started')) return run.id
      throw new MessageError(409, `run ${run.id} is ${run.status}: it is neither running nor waiting on this node`)
    }
  }
}
