import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import { startApi, type ApiServer } from '../api/server.js'
import type { RunEvent } from '../interfaces/engine.js'
import { MessageError, UsageError } from '../interfaces/errors.js'
import type { Pipeline } from '../interfaces/pipeline.js'
import { decodeMessages, DropFolder, MessageRouter, RunQueue, Schedule, type ScheduleEvent, type WatchEvent } from '../triggers/index.js'
import { openEmbeddedNode, type EmbeddedNode, type NodeNetworkOptions } from './embedded.js'
import { readRunLogs } from './run-logs.js'
import { RunBoard } from './run-board.js'
import { validatePipeline } from './validation.js'
import { onExecutor } from '../pipeline/index.js'

/** Everything a serving node reports: run progress, files taken, schedule fires, messages. */
export type NodeEvent =
  | RunEvent
  | WatchEvent
  | ScheduleEvent
  | { readonly type: 'message:accepted', readonly topic: string, readonly runs: number, readonly duplicate: boolean }
  | { readonly type: 'run:error', readonly runId: string, readonly message: string }

export interface ServeInit {
  readonly dataDir: string
  /** Validated pipelines; their triggers start runs. Names must be unique. */
  readonly pipelines: readonly Pipeline[]
  /** Relative paths in runs' options are relative to this. */
  readonly cwd: string
  /** Where results are copied, as `<dir>/<run-id>/`. @default `<cwd>/outputs` */
  readonly outputsDir?: string
  /** Runs of one pipeline at once at most. @default the number of cores */
  readonly concurrency?: number
  /** Which triggers to start. @default all */
  readonly triggers?: { readonly watch?: boolean, readonly schedule?: boolean, readonly message?: boolean }
  /** Files a drop folder looks at, at most, at once; more wait for a rescan. @default 512 */
  readonly watchPending?: number
  /** The local HTTP API; none when undefined. */
  readonly api?: { readonly host: string, readonly port: number }
  /** Join the network of bac nodes; alone when undefined. */
  readonly network?: NodeNetworkOptions
  readonly onEvent?: (event: NodeEvent) => void
}

/** A node that keeps running: its pipelines' triggers start runs until it is stopped. */
export interface ServingNode {
  readonly id: string
  readonly dataDir: string
  /** The HTTP API's base URL, when it has one. */
  readonly url?: string
  readonly node: EmbeddedNode
  /** Resolves once no file is being taken and no run is running or waiting. */
  idle: () => Promise<void>
  /** Stops the triggers and interrupts running runs (taken up again at the next start). */
  stop: () => Promise<void>
}

/** Where a serving node leaves its API address, for `bac message send` and the CLI. */
export const API_FILE = 'api.json'

/** The API address of the node serving on a data dir, if one is (its process is alive). */
export function runningApi (dataDir: string): { url: string, pid: number, node: string } | undefined {
  try {
    const api = JSON.parse(readFileSync(path.join(dataDir, API_FILE), 'utf8')) as { url: string, pid: number, node: string }
    process.kill(api.pid, 0)
    return api
  } catch {
    return undefined
  }
}

/**
 * Starts a serving node on a data dir: the embedded node, a run queue per pipeline, the drop
 * folders, schedules and message topics of the pipelines, and the local HTTP API. Runs that
 * were queued or interrupted when the last node stopped are taken up at once.
 */
export async function startServing (init: ServeInit): Promise<ServingNode> {
  const names = new Map<string, string>()
  for (const p of init.pipelines) {
    const other = names.get(p.name)
    if (other !== undefined) throw new UsageError(`two pipelines are named '${p.name}' (${other} and ${p.file}); names must be unique on a node`)
    names.set(p.name, p.file)
  }
  const node = await openEmbeddedNode({ dataDir: init.dataDir, ...(init.network !== undefined ? { network: init.network } : {}) })
  const board = new RunBoard()
  const emit = (event: NodeEvent): void => {
    board.event(event)
    init.onEvent?.(event)
  }
  const enabled = { watch: true, schedule: true, message: true, ...init.triggers }
  const concurrency = init.concurrency ?? availableParallelism()
  const common = { runs: node.runs, engine: node.engine, cwd: init.cwd, ...(init.outputsDir !== undefined ? { outputsDir: init.outputsDir } : {}) }
  const queues = new Map<Pipeline, RunQueue>()
  const drops: DropFolder[] = []
  const schedules: Schedule[] = []
  let api: ApiServer | undefined
  try {
    for (const pipeline of init.pipelines) {
      let drop: DropFolder | undefined
      const queue = new RunQueue({
        pipeline, runs: node.runs, engine: node.engine, concurrency, onEvent: emit,
        onEnded: (outcome) => { drop?.ended(outcome) },
        onError: (runId, error) => { emit({ type: 'run:error', runId, message: error.message }) }
      })
      queues.set(pipeline, queue)
      if (enabled.watch && pipeline.on.watch !== undefined) {
        drop = new DropFolder({ ...common, pipeline, store: node.store, queued: () => { queue.wake() }, onEvent: emit, ...(init.watchPending !== undefined ? { maxPending: init.watchPending } : {}) })
        drops.push(drop)
      }
      if (enabled.schedule && pipeline.on.schedule !== undefined) {
        schedules.push(new Schedule({ ...common, pipeline, queued: () => { queue.wake() }, onEvent: emit }))
      }
    }
    // what the last node left: queued runs, and triggered runs it was running when it died
    for (const queue of queues.values()) queue.wake()
    await Promise.all(drops.map(async (drop) => { await drop.start() }))
    for (const schedule of schedules) schedule.start()
    const listening = enabled.message ? init.pipelines.filter((p) => p.on.message !== undefined) : []
    const router = new MessageRouter({ ...common, pipelines: listening, queued: (p) => { queues.get(p)?.wake() } })
    if (init.api !== undefined) {
      api = await startApi({
        host: init.api.host,
        port: init.api.port,
        handlers: {
          info: () => ({
            id: node.id,
            pipelines: init.pipelines.map((p) => p.name),
            topics: router.topics,
            ...(node.network !== undefined ? { peerId: node.network.peerId, addrs: node.network.addrs(), advert: node.network.self } : {})
          }),
          peers: () => (node.network?.list() ?? []).map((p) => ({ ...p })),
          startRun: async (request) => {
            const file = typeof request.pipeline === 'string' ? path.resolve(init.cwd, request.pipeline) : undefined
            if (file === undefined) throw new UsageError('the request names no pipeline file (pipeline: <path>)')
            const validation = validatePipeline(file)
            if (validation.value === undefined) {
              const first = validation.errors[0]
              throw new UsageError(`${file}: not run, the pipeline has ${validation.errors.length} error${validation.errors.length === 1 ? '' : 's'}${first !== undefined ? `; the first: ${first.line ?? 0}:${first.column ?? 0} ${first.message}` : ''} (bac validate shows them all)`)
            }
            const pipeline = typeof request.executor === 'string' ? onExecutor(validation.value, request.executor, typeof request.image === 'string' ? request.image : undefined) : validation.value
            const cwd = typeof request.cwd === 'string' ? request.cwd : init.cwd
            const record = node.engine.prepare(pipeline, {
              trigger: { kind: 'manual' },
              cwd,
              inputs: (request.inputs ?? {}) as Record<string, string>,
              ...(typeof request.outputsDir === 'string' ? { outputsDir: request.outputsDir } : (init.outputsDir !== undefined ? { outputsDir: init.outputsDir } : {})),
              ...(typeof request.concurrency === 'number' ? { concurrency: request.concurrency } : {}),
              ...(request.noCache === true ? { noCache: true } : {})
            })
            node.runs.createRun(record)
            board.start(record.id, async (signal) => await node.engine.run(pipeline, { queued: record.id, signal, onEvent: emit }))
            return { runId: record.id }
          },
          events: async (id, send, closed) => {
            if (await board.follow(id, send, closed)) return
            const run = node.runs.findRun(id)
            if (run === undefined) throw new MessageError(404, `run ${id}: no run has this id`)
            // a run that ended before it was followed: its end, from the run store
            send({ type: 'run:end', runId: run.id, status: run.status, durationMs: (run.endedAt ?? 0) - (run.startedAt ?? 0), ...(run.resultCid !== undefined ? { resultCid: run.resultCid } : {}), ...(run.reason !== undefined ? { reason: run.reason } : {}) })
          },
          cancel: (id) => {
            if (!board.cancel(id)) throw new MessageError(409, `run ${id} is not running on this node`)
          },
          message: async (topic, body, contentType, key) => {
            const rows = await decodeMessages(body, contentType)
            const accepted = router.accept(topic, rows, key === undefined ? {} : { key })
            emit({ type: 'message:accepted', topic, runs: accepted.runs.length, duplicate: accepted.duplicate })
            return { ...accepted }
          },
          run: (id) => {
            const run = node.runs.findRun(id)
            return run === undefined ? undefined : { ...run, steps: node.runs.steps(run.id), executions: node.runs.executions(run.id) }
          },
          list: (options) => node.runs.listRuns(options).map((r) => ({ ...r })),
          logs: async (id, options, send, closed) => {
            await readRunLogs(node.runs, id, { ...options, signal: closed }, (chunk) => { send({ ...chunk }) })
          },
          content: (cid, closed) => node.store.exportCar(cid, { signal: closed })
        }
      })
      const file = path.join(node.dataDir, API_FILE)
      writeFileSync(`${file}.${process.pid}`, `${JSON.stringify({ url: api.url, pid: process.pid, node: node.id, ...(node.network !== undefined ? { peerId: node.network.peerId, addrs: node.network.addrs() } : {}) })}\n`)
      renameSync(`${file}.${process.pid}`, file)
    }
  } catch (err) {
    await Promise.all(drops.map(async (d) => { await d.stop() }))
    for (const s of schedules) s.stop()
    await api?.close()
    await Promise.all([...queues.values()].map(async (q) => { await q.stop() }))
    await node.close()
    throw err
  }
  const served = api
  return {
    id: node.id,
    dataDir: node.dataDir,
    ...(served !== undefined ? { url: served.url } : {}),
    node,
    idle: async () => {
      for (;;) {
        await Promise.all([...queues.values()].map(async (q) => { await q.idle() }))
        if (drops.every((d) => d.quiet) && [...queues.values()].every((q) => q.running === 0)) return
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    },
    stop: async () => {
      await Promise.all(drops.map(async (d) => { await d.stop() }))
      for (const s of schedules) s.stop()
      if (served !== undefined) {
        await served.close()
        const file = path.join(node.dataDir, API_FILE)
        if (runningApi(node.dataDir)?.pid === process.pid) rmSync(file, { force: true })
      }
      await Promise.all([...queues.values()].map(async (q) => { await q.stop() }))
      await board.stop()
      await node.close()
    }
  }
}
