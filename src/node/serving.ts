import { randomBytes } from 'node:crypto'
import { realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import { startApi, type ApiServer } from '../api/server.js'
import { DashboardSessions, SERVE_CODE_MS } from '../api/sessions.js'
import { parseEnvelope } from '../common/dsse.js'
import { isInside, readRegularFileSync } from '../common/files.js'
import type { RunEvent } from '../interfaces/engine.js'
import { UsageError } from '../interfaces/errors.js'
import type { BacNode, RunRequest } from '../interfaces/node.js'
import type { Pipeline } from '../interfaces/pipeline.js'
import type { RunRecord } from '../interfaces/run-store.js'
import { decodeMessages, DropFolder, MessageRouter, RunQueue, Schedule, type ScheduleEvent, type WatchEvent } from '../triggers/index.js'
import { openEmbeddedNode, type EmbeddedNode, type NodeNetworkOptions } from './embedded.js'
import { VERSION } from '../version.js'
import { dashboardDir } from './dashboard-files.js'
import { EventHub } from './event-hub.js'
import { isRunEvent, RunBoard } from './run-board.js'
import { createValidator } from './validation.js'
import { MAX_VALIDATED_FILE_BYTES, regularFiles, type PipelineValidator } from '../pipeline/index.js'
import { PathPolicy } from './path-policy.js'
import { contentOps, historyOps, nodeRuns, runCounts } from './node-ops.js'
import { findRecord } from './provenance.js'
import { followedRun, requestOf } from './run-handle.js'

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
  /**
   * The local HTTP API; none when undefined. `token` is the secret every request carries (a
   * random one is made when it is not given); `hosts` are names besides loopback ones and the
   * listening address that requests may address the node by.
   */
  readonly api?: { readonly host: string, readonly port: number, readonly token?: string, readonly hosts?: readonly string[] }
  /**
   * The folders the pipelines were loaded from (`--pipelines`): an API request may name a
   * pipeline file under them, and with `allowPaths` unset they (with their project folders) are
   * the folders callers may name.
   */
  readonly pipelineFolders?: readonly string[]
  /**
   * The folders API callers and message fields may name (input paths, cwd, outputsDir); links
   * are resolved before the check. The data dir is never allowed. @default the pipelines folders
   * and their project folders (the nearest folder above with a jobstore/)
   */
  readonly allowPaths?: readonly string[]
  /** Join the network of bac nodes; alone when undefined. */
  readonly network?: NodeNetworkOptions
  /** A Kubo daemon's RPC API to keep content in (`--ipfs-api`). @default as `openEmbeddedNode` chooses */
  readonly ipfsApi?: string
  readonly onEvent?: (event: NodeEvent) => void
}

/** A node that keeps running: its pipelines' triggers start runs until it is stopped. */
export interface ServingNode {
  readonly id: string
  readonly dataDir: string
  /** The HTTP API's base URL, when it has one. */
  readonly url?: string
  /** The token its requests must carry, when it has an API. */
  readonly token?: string
  /**
   * A dashboard login URL, when it has an API with the dashboard built: a code in its fragment,
   * good once, for 10 minutes (not the token).
   */
  dashboardLogin: () => string | undefined
  readonly node: EmbeddedNode
  /** The node as its clients see it: what its HTTP API serves. */
  readonly bac: BacNode
  /** Resolves once no file is being taken and no run is running or waiting. */
  idle: () => Promise<void>
  /** Stops the triggers and interrupts running runs (taken up again at the next start). */
  stop: () => Promise<void>
}

/** Where a serving node leaves its API address and token (mode 0600), for the CLI on the same machine. */
export const API_FILE = 'api.json'

/** The API of the node serving on a data dir, if one is (its process is alive): its URL and token. */
export function runningApi (dataDir: string): { url: string, pid: number, node: string, token?: string } | undefined {
  try {
    const api = JSON.parse(readRegularFileSync(path.join(dataDir, API_FILE), 64 * 1024, 'a node\'s API file').toString('utf8')) as { url: unknown, pid: unknown, node: unknown, token?: unknown }
    if (typeof api.url !== 'string' || typeof api.pid !== 'number' || typeof api.node !== 'string') return undefined
    process.kill(api.pid, 0)
    return { url: api.url, pid: api.pid, node: api.node, ...(typeof api.token === 'string' ? { token: api.token } : {}) }
  } catch {
    return undefined
  }
}

/** A token for the API: 32 random bytes, URL-safe. */
export function newApiToken (): string {
  return randomBytes(32).toString('base64url')
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
  const policy = init.allowPaths !== undefined ? new PathPolicy(init.allowPaths, init.dataDir) : PathPolicy.defaults(init.pipelineFolders ?? [], init.dataDir)
  const node = await openEmbeddedNode({
    dataDir: init.dataDir,
    within: policy.scope,
    ...(init.network !== undefined ? { network: init.network } : {}),
    ...(init.ipfsApi !== undefined ? { ipfsApi: init.ipfsApi } : {})
  })
  const pipelineFolders = (init.pipelineFolders ?? []).flatMap((f) => { try { return [realpathSync(f)] } catch { return [] } })
  const board = new RunBoard()
  const hub = new EventHub()
  const emit = (event: NodeEvent): void => {
    board.event(event)
    if (isRunEvent(event)) hub.publish(event)
    init.onEvent?.(event)
  }
  const enabled = { watch: true, schedule: true, message: true, ...init.triggers }
  const concurrency = init.concurrency ?? availableParallelism()
  const common = { runs: node.runs, engine: node.engine, cwd: init.cwd, ...(init.outputsDir !== undefined ? { outputsDir: init.outputsDir } : {}) }
  const queues = new Map<Pipeline, RunQueue>()
  const drops: DropFolder[] = []
  const schedules: Schedule[] = []
  let api: (ApiServer & { token: string, sessions: DashboardSessions, dashboard: boolean }) | undefined
  let bac: BacNode | undefined
  /**
   * Stops what started, in the reverse order, whether the node started whole or not: the
   * triggers (nothing new is taken), the API (and its api.json), the queues (running runs are
   * interrupted, to be taken up at the next start), the board, then the node itself.
   */
  const teardown = async (): Promise<void> => {
    await Promise.all(drops.map(async (d) => { await d.stop() }))
    for (const s of schedules) s.stop()
    if (api !== undefined) {
      await api.close()
      if (runningApi(node.dataDir)?.pid === process.pid) rmSync(path.join(node.dataDir, API_FILE), { force: true })
    }
    await Promise.all([...queues.values()].map(async (q) => { await q.stop() }))
    await board.stop()
    hub.close()
    await node.close()
  }
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
    /**
     * The pipeline an API request runs: one this node serves (by name, or by a path under its
     * pipelines folders), or the text sent, validated as if it stood at `file` (in the allowed
     * folders). What the validator reads for it (job templates, schemas) must lie there too.
     */
    const runPipeline = (request: RunRequest): Pipeline => {
      const served = init.pipelines.find((p) => p.name === request.pipeline)
      if (served !== undefined) return served
      let validation
      if (request.pipeline !== undefined) {
        const absolute = path.resolve(init.cwd, request.pipeline)
        let real: string
        try {
          real = realpathSync(absolute)
        } catch {
          throw new UsageError(`no pipeline named '${request.pipeline}' is served here, and there is no file ${absolute}; served: ${init.pipelines.map((p) => p.name).join(', ') || 'none'}`)
        }
        const same = init.pipelines.find((p) => { try { return realpathSync(p.file) === real } catch { return false } })
        if (same !== undefined) return same
        if (!pipelineFolders.some((f) => isInside(real, f))) {
          throw new UsageError(`${absolute}${real !== absolute ? ` (${real})` : ''} is not under this node's pipelines folders (${pipelineFolders.join(', ') || 'none'}); ` +
            `name a pipeline it serves, or send the pipeline's text`)
        }
        validation = confinedValidator().validatePipelineFile(real)
      } else {
        // where the caller says the text stands must be allowed; the node's own default need not be
        const file = request.file !== undefined ? policy.writable(request.file, init.cwd, 'file') : path.join(pipelineFolders[0] ?? init.dataDir, 'api-pipeline.yml')
        validation = confinedValidator().validatePipelineText(file, request.text ?? '')
      }
      if (validation.value === undefined) {
        const first = validation.errors[0]
        throw new UsageError(`${validation.file}: not run, the pipeline has ${validation.errors.length} error${validation.errors.length === 1 ? '' : 's'}` +
          `${first !== undefined ? `; the first: ${first.line}:${first.column} ${first.message}` : ''} (bac validate shows them all)`)
      }
      return validation.value
    }
    /**
     * A validator for what a caller sends or names: every file it reads (the pipeline, the job
     * templates it uses, message schema files) must lie in the allowed folders, checked on the
     * file as opened; files outside look present to it, so the refusal is said where they are named.
     */
    const confinedValidator = (): PipelineValidator => {
      const regular = regularFiles()
      return createValidator({
        files: {
          read: (file, kind) => readRegularFileSync(file, MAX_VALIDATED_FILE_BYTES, `a ${kind}`, { within: policy.scope }),
          kind: (file) => {
            try {
              const real = realpathSync(file)
              return policy.roots.some((root) => isInside(real, root)) && !policy.except.some((own) => isInside(real, own)) ? regular.kind(file) : 'file'
            } catch {
              return undefined
            }
          }
        }
      })
    }
    const self: BacNode = {
      get where () { return api?.url ?? node.dataDir },
      info: async () => ({
        id: node.id,
        pipelines: init.pipelines.map((p) => p.name),
        topics: router.topics,
        ...(node.network !== undefined ? { peerId: node.network.peerId, addrs: node.network.addrs(), advert: node.network.self } : {})
      }),
      health: async () => ({
        ok: true,
        id: node.id,
        version: VERSION,
        uptimeMs: Math.round(performance.now()),
        runs: runCounts(node.runs),
        ...(node.network !== undefined ? { peers: node.network.peers().length, runningForPeers: node.network.running() } : {})
      }),
      peers: async () => node.network?.list() ?? [],
      watch: async (signal) => hub.watch(signal),
      triggers: async () => {
        const recent = node.runs.listRuns({ limit: 1000 })
        const of = (pipeline: Pipeline, kind: string): RunRecord[] => recent.filter((r) => r.pipelineFile === pipeline.file && r.trigger.kind === kind)
        const last = (runs: readonly RunRecord[]): { lastAt?: number } => runs[0] !== undefined ? { lastAt: runs[0].createdAt } : {}
        return init.pipelines.map((pipeline) => {
          const drop = drops.find((d) => d.pipeline === pipeline)
          const schedule = schedules.find((s) => s.pipeline === pipeline)
          const watched = of(pipeline, 'watch')
          const messaged = of(pipeline, 'message')
          const fired = of(pipeline, 'schedule')
          return {
            pipeline: pipeline.name,
            file: pipeline.file,
            ...(drop !== undefined
              ? { watch: { folder: drop.folder, taken: watched.length, waiting: watched.filter((r) => r.status === 'queued').length, failed: watched.filter((r) => r.status === 'failed').length } }
              : {}),
            ...(pipeline.on.message !== undefined && enabled.message ? { message: { topic: pipeline.on.message.topic, runs: messaged.length, ...last(messaged) } } : {}),
            ...(schedule !== undefined ? { schedule: { next: schedule.next(Date.now()), runs: fired.length, ...last(fired) } } : {})
          }
        })
      },
      ...historyOps(() => node.runs),
      ...contentOps(async () => node.store),
      provenance: async (id) => parseEnvelope((await findRecord(node, id)).envelope),
      ...nodeRuns({
        node,
        board,
        cwdOf: (request) => request.cwd !== undefined ? policy.existing(request.cwd, init.cwd, 'cwd') : init.cwd,
        pipelineOf: (request) => runPipeline(request),
        outputsOf: (request, cwd) => typeof request.outputsDir === 'string' ? policy.writable(request.outputsDir, cwd, 'outputsDir') : (request.outputsDir === null ? null : init.outputsDir),
        emit: (event) => { hub.publish(event); init.onEvent?.(event) },
        cancelQueued: (run) => {
          const queue = [...queues].find(([p]) => path.resolve(p.file) === path.resolve(run.pipelineFile))
          if (queue?.[1].cancel(run.id) !== true && !node.runs.cancelWaiting(run.id, 'cancelled before it started')) return false
          // a dropped file whose run will never start goes where failed ones go
          if (node.runs.getRun(run.id)?.status === 'cancelled') drops.find((d) => d.pipeline === queue?.[0])?.ended({ runId: run.id, status: 'cancelled', steps: {} })
          return true
        }
      }),
      run: (start, options = {}) => followedRun(self, requestOf(start), { ...options, copyTo: start.outputsDir }),
      submitJob: (job, options = {}) => followedRun(self, { job, outputsDir: null }, options),
      sendMessages: async (topic, batch) => {
        const rows = await decodeMessages(batch.body, batch.contentType)
        const accepted = router.accept(topic, rows, batch.key === undefined ? {} : { key: batch.key })
        emit({ type: 'message:accepted', topic, runs: accepted.runs.length, duplicate: accepted.duplicate })
        return accepted
      },
      // the node is stopped by its owner (stop), not by a client done with it
      close: async () => {}
    }
    bac = self
    const dashboard = dashboardDir()
    const sessions = new DashboardSessions()
    if (init.api !== undefined) {
      const token = init.api.token ?? newApiToken()
      const started = await startApi({
        version: VERSION,
        host: init.api.host,
        port: init.api.port,
        access: { token, ...(init.api.hosts !== undefined ? { hosts: init.api.hosts } : {}) },
        node: self,
        sessions,
        ...(dashboard !== undefined ? { dashboardDir: dashboard } : {})
      })
      api = { ...started, token, sessions, dashboard: dashboard !== undefined }
      const file = path.join(node.dataDir, API_FILE)
      // the token is a secret: only the node's own user may read it
      writeFileSync(
        `${file}.${process.pid}`,
        `${JSON.stringify({ url: api.url, pid: process.pid, node: node.id, token, ...(node.network !== undefined ? { peerId: node.network.peerId, addrs: node.network.addrs() } : {}) })}\n`,
        { mode: 0o600 }
      )
      renameSync(`${file}.${process.pid}`, file)
    }
  } catch (err) {
    await teardown()
    throw err
  }
  const served = api
  if (bac === undefined) throw new Error('the node was not made')
  return {
    bac,
    dashboardLogin: () => served !== undefined && served.dashboard ? `${served.url}/#login=${served.sessions.code(SERVE_CODE_MS).code}` : undefined,
    id: node.id,
    dataDir: node.dataDir,
    ...(served !== undefined ? { url: served.url, token: served.token } : {}),
    node,
    idle: async () => {
      for (;;) {
        await Promise.all([...queues.values()].map(async (q) => { await q.idle() }))
        if (drops.every((d) => d.quiet) && [...queues.values()].every((q) => q.running === 0)) return
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    },
    stop: teardown
  }
}
