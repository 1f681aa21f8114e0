import {
  asRunEvent, cancelRun, fetchContent, fetchFolder, fetchHealth, fetchInfo, fetchLogs, fetchPeers, fetchProvenance, fetchRun, fetchTriggers, followRun, listRuns, postContent,
  postMessages, startRun, watchEvents, type NodeTarget
} from '../api/client.js'
import { cidAlone, parseContentPath } from '../common/cid.js'
import { parseEnvelope } from '../common/dsse.js'
import { printable } from '../common/text.js'
import { UnsafeContentError } from '../interfaces/errors.js'
import type { NodeAdvert, PeerInfo } from '../interfaces/network.js'
import type { AcceptedBatch, BacNode, LogChunk, NodeHealth, NodeInfo, PipelineTriggers, RunDescription } from '../interfaces/node.js'
import type { ExecutionRecord, GraphStep, RunGraph, RunRecord, StepRecord } from '../interfaces/run-store.js'
import { createFsStore } from '../storage/index.js'
import { writeCarOut } from '../storage/car-out.js'
import { fileBytes, withScratch } from './node-ops.js'
import { followedRun, requestOf } from './run-handle.js'

/** Run ids as nodes make them: letters, digits, `_` and `-`, never a path. */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/

const notBac = (what: string): UnsafeContentError => new UnsafeContentError('the node\'s answer', `${what}; nothing was done with it`)

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A node's answer as a run (its fields of the types bac gives them), checked before any is used. */
function asRun (value: unknown): RunRecord {
  if (!isObject(value)) throw notBac('is not a run as a bac node gives it')
  const run = value
  const text = (key: string, optional = false): boolean => (optional && run[key] === undefined) || typeof run[key] === 'string'
  const time = (key: string): boolean => run[key] === undefined || typeof run[key] === 'number'
  if (typeof run.id === 'string' && !RUN_ID.test(run.id)) {
    throw new UnsafeContentError('the node\'s answer', `names the run ${JSON.stringify(run.id.slice(0, 80))}, which is not a run id; nothing was written`)
  }
  // its words are printed only through printable(): a status of any text is shown, never obeyed
  const ok = text('id') && text('status') && text('pipeline', true) && text('pipelineFile', true) && text('summary', true) && text('reason', true) &&
    text('resultCid', true) && text('provenanceCid', true) && time('createdAt') && time('startedAt') && time('endedAt') &&
    (run.data === undefined || (Array.isArray(run.data) && run.data.every((d) => typeof d === 'string'))) &&
    (run.trigger === undefined || isObject(run.trigger)) && (run.inputs === undefined || isObject(run.inputs))
  if (!ok) throw notBac('is not a run as a bac node gives it')
  if (run.resultCid !== undefined) parseContentPath(String(run.resultCid))
  if (run.graph !== undefined && asGraph(run.graph) === undefined) throw notBac('is not a run as a bac node gives it (its graph is not a DAG of steps)')
  const checked = run as Partial<RunRecord> & Pick<RunRecord, 'id' | 'status'>
  return { data: [], trigger: {}, inputs: {}, pipeline: '', pipelineFile: '', summary: '', createdAt: 0, ...checked }
}

/** A run's DAG as a node gives it: steps with ids, needs that name steps of it, and the kinds bac uses. */
function asGraph (value: unknown): RunGraph | undefined {
  if (!isObject(value) || !Array.isArray(value.steps) || value.steps.length > 10_000) return undefined
  const steps: GraphStep[] = []
  for (const s of value.steps) {
    if (!isObject(s) || typeof s.id !== 'string' || !texts(s.needs) || typeof s.executor !== 'string' || !count(s.nodes) ||
      typeof s.foreach !== 'boolean' || typeof s.conditional !== 'boolean' || (s.uses !== undefined && typeof s.uses !== 'string')) return undefined
    steps.push({
      id: s.id, needs: s.needs, executor: s.executor, nodes: s.nodes, foreach: s.foreach, conditional: s.conditional,
      ...(typeof s.uses === 'string' ? { uses: s.uses } : {})
    })
  }
  const ids = new Set(steps.map((s) => s.id))
  return steps.every((s) => s.needs.every((n) => ids.has(n))) ? { steps } : undefined
}

function asDescription (value: unknown): RunDescription {
  if (!isObject(value)) throw notBac('is not a run as a bac node gives it')
  const { steps, executions, ...rest } = value
  const run = asRun(rest)
  const isStep = (s: unknown): boolean => isObject(s) && typeof s.stepId === 'string' && typeof s.status === 'string'
  const isAttempt = (e: unknown): boolean => isObject(e) && typeof e.stepId === 'string' && typeof e.attempt === 'number' && typeof e.node === 'string'
  if (!Array.isArray(steps) || !steps.every(isStep)) throw notBac('is not a run as a bac node gives it (its steps are not steps)')
  if (executions !== undefined && (!Array.isArray(executions) || !executions.every(isAttempt))) throw notBac('is not a run as a bac node gives it (its attempts are not attempts)')
  return { run, steps: steps as StepRecord[], executions: (executions ?? []) as ExecutionRecord[] }
}

function asChunk (value: unknown): LogChunk {
  const c = value as Partial<LogChunk> | null
  if (!isObject(c) || typeof c.stepId !== 'string' || typeof c.attempt !== 'number' || typeof c.node !== 'string' ||
    (c.stream !== 'stdout' && c.stream !== 'stderr') || typeof c.text !== 'string' || (c.item !== undefined && typeof c.item !== 'number')) {
    throw notBac('gives a log line that is not one')
  }
  return c as LogChunk
}

const texts = (v: unknown): v is string[] => Array.isArray(v) && v.every((t) => typeof t === 'string')
const count = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0

/** A node's advert as a node sends it (its words are printed only through printable()). */
function asAdvert (value: unknown): NodeAdvert {
  if (!isObject(value) || typeof value.nodeId !== 'string' || typeof value.peerId !== 'string' || typeof value.version !== 'string' ||
    !isObject(value.labels) || !Object.values(value.labels).every((v) => typeof v === 'string') || !texts(value.executors) ||
    (value.images !== undefined && !texts(value.images)) || !count(value.slots) || !count(value.running) || !texts(value.addrs)) throw notBac('gives an advert that is not one')
  return {
    nodeId: value.nodeId, peerId: value.peerId, version: value.version,
    labels: Object.fromEntries(Object.entries(value.labels).map(([k, v]) => [k, String(v)])),
    executors: value.executors, ...(texts(value.images) ? { images: value.images } : {}),
    slots: value.slots, running: value.running, addrs: value.addrs
  }
}

function asInfo (value: unknown): NodeInfo {
  if (!isObject(value) || typeof value.id !== 'string' || !texts(value.pipelines) || !texts(value.topics) ||
    (value.peerId !== undefined && typeof value.peerId !== 'string') || (value.addrs !== undefined && !texts(value.addrs))) throw notBac('is not a node as a bac node describes itself')
  return {
    id: value.id, pipelines: value.pipelines, topics: value.topics,
    ...(typeof value.peerId === 'string' ? { peerId: value.peerId } : {}),
    ...(texts(value.addrs) ? { addrs: value.addrs } : {}),
    ...(value.advert !== undefined ? { advert: asAdvert(value.advert) } : {})
  }
}

function asHealth (value: unknown): NodeHealth {
  const runs = isObject(value) ? value.runs : undefined
  if (!isObject(value) || typeof value.ok !== 'boolean' || typeof value.id !== 'string' || typeof value.version !== 'string' || typeof value.uptimeMs !== 'number' ||
    !isObject(runs) || !count(runs.running) || !count(runs.queued) ||
    (value.peers !== undefined && !count(value.peers)) || (value.runningForPeers !== undefined && !count(value.runningForPeers))) throw notBac('is not a bac node\'s health')
  return {
    ok: value.ok, id: value.id, version: value.version, uptimeMs: value.uptimeMs, runs: { running: runs.running, queued: runs.queued },
    ...(count(value.peers) ? { peers: value.peers } : {}),
    ...(count(value.runningForPeers) ? { runningForPeers: value.runningForPeers } : {})
  }
}

function asPeer (value: unknown): PeerInfo {
  if (!isObject(value) || typeof value.trusted !== 'boolean' || typeof value.connected !== 'boolean' || typeof value.lastSeen !== 'number' || !count(value.dispatched)) {
    throw notBac('gives a peer that is not one')
  }
  return { advert: asAdvert(value.advert), trusted: value.trusted, connected: value.connected, lastSeen: value.lastSeen, dispatched: value.dispatched }
}

const time = (v: unknown): boolean => v === undefined || (typeof v === 'number' && Number.isFinite(v))

function asTriggers (value: unknown): PipelineTriggers {
  const watch = isObject(value) ? value.watch : undefined
  const message = isObject(value) ? value.message : undefined
  const schedule = isObject(value) ? value.schedule : undefined
  if (!isObject(value) || typeof value.pipeline !== 'string' || typeof value.file !== 'string' ||
    (watch !== undefined && (!isObject(watch) || typeof watch.folder !== 'string' || !count(watch.taken) || !count(watch.waiting) || !count(watch.failed))) ||
    (message !== undefined && (!isObject(message) || typeof message.topic !== 'string' || !count(message.runs) || !time(message.lastAt))) ||
    (schedule !== undefined && (!isObject(schedule) || !count(schedule.runs) || !time(schedule.next) || !time(schedule.lastAt)))) {
    throw notBac('is not a pipeline\'s triggers')
  }
  const at = (v: unknown): { lastAt?: number } => typeof v === 'number' ? { lastAt: v } : {}
  return {
    pipeline: value.pipeline,
    file: value.file,
    ...(isObject(watch) ? { watch: { folder: String(watch.folder), taken: Number(watch.taken), waiting: Number(watch.waiting), failed: Number(watch.failed) } } : {}),
    ...(isObject(message) ? { message: { topic: String(message.topic), runs: Number(message.runs), ...at(message.lastAt) } } : {}),
    ...(isObject(schedule) ? { schedule: { runs: Number(schedule.runs), ...(typeof schedule.next === 'number' ? { next: schedule.next } : {}), ...at(schedule.lastAt) } } : {})
  }
}

function asAccepted (value: unknown): AcceptedBatch {
  if (!isObject(value) || typeof value.topic !== 'string' || typeof value.duplicate !== 'boolean' || !Array.isArray(value.runs) ||
    !value.runs.every((r) => isObject(r) && typeof r.id === 'string' && RUN_ID.test(r.id) && typeof r.pipeline === 'string' && count(r.row))) throw notBac('is not a batch as a bac node takes it')
  return { topic: value.topic, duplicate: value.duplicate, runs: value.runs as AcceptedBatch['runs'] }
}

/**
 * A node reached through its HTTP API (`--node`, `$BAC_NODE`, or the node serving on the data
 * dir). Every answer is checked before it is used: run ids before they name folders, CIDs before
 * they are fetched, content block by block against its CIDs.
 */
export function httpNode (target: NodeTarget): BacNode {
  const self: BacNode = {
    where: target.url,
    info: async () => asInfo(await fetchInfo(target)),
    health: async () => asHealth(await fetchHealth(target)),
    peers: async () => {
      const list = await fetchPeers(target)
      if (!Array.isArray(list)) throw notBac('is not a list of peers')
      return list.map(asPeer)
    },
    triggers: async () => {
      const list = await fetchTriggers(target)
      if (!Array.isArray(list)) throw notBac('is not a list of pipelines\' triggers')
      return list.map(asTriggers)
    },
    watch: async (signal) => {
      const raw = await watchEvents(target, signal)
      return (async function * () {
        try {
          for await (const event of raw) yield asRunEvent(event)
        } catch (err) {
          // the caller's own abort ends the watch, as it does on a node in this process
          if (signal?.aborted !== true) throw err
        }
      })()
    },
    listContent: async (path) => {
      const answer = await fetchFolder(target, path)
      const entries = isObject(answer) ? answer.entries : undefined
      if (!Array.isArray(entries)) throw notBac('is not a folder\'s entries')
      return entries.map((e) => {
        if (!isObject(e) || typeof e.name !== 'string' || e.name === '' || e.name.includes('/') || typeof e.cid !== 'string' || cidAlone(e.cid) !== e.cid ||
          (e.type !== 'file' && e.type !== 'directory') || typeof e.size !== 'number' || e.size < 0) throw notBac('gives a folder entry that is not one')
        return { name: e.name, cid: e.cid, type: e.type, size: e.size }
      })
    },
    listRuns: async (options = {}) => {
      const list = await listRuns(target, {
        ...(options.limit !== undefined ? { limit: options.limit } : {}),
        ...(options.before !== undefined ? { before: options.before } : {}),
        ...(options.cid !== undefined ? { cid: options.cid } : {})
      })
      if (!Array.isArray(list)) throw notBac('is not a list of runs')
      return list.map(asRun)
    },
    describeRun: async (id) => asDescription(await fetchRun(target, id)),
    logs: async (id, options, onChunk) => {
      const query = { ...(options.step !== undefined ? { step: options.step } : {}), ...(options.follow === true ? { follow: true } : {}) }
      await fetchLogs(target, id, query, (chunk) => { onChunk(asChunk(chunk)) }, options.signal)
    },
    cancelRun: async (id) => {
      const answer = await cancelRun(target, id)
      const full = isObject(answer) ? answer.cancelling : undefined
      return typeof full === 'string' && RUN_ID.test(full) ? full : id
    },
    provenance: async (id) => parseEnvelope(await fetchProvenance(target, id)),
    startRun: async (request) => {
      const answer = await startRun(target, request)
      const runId = isObject(answer) ? answer.runId : undefined
      // a run id becomes a folder name here: checked before anything is written
      if (typeof runId !== 'string' || !RUN_ID.test(runId)) {
        throw new UnsafeContentError('the node\'s answer', `names the run ${JSON.stringify(String(runId).slice(0, 80))}, which is not a run id; nothing was written`)
      }
      return runId
    },
    follow: (id, signal) => (async function * () {
      for await (const raw of followRun(target, id, signal)) {
        const event = asRunEvent(raw)
        if (event.type === 'run:end') {
          if (event.resultCid !== undefined) parseContentPath(event.resultCid)
          if (event.provenanceCid !== undefined && cidAlone(event.provenanceCid) === undefined) throw notBac('names a provenance record that is not a CID')
        }
        yield event
      }
    })(),
    run: (start, options = {}) => followedRun(self, requestOf(start), { ...options, copyTo: start.outputsDir }),
    submitJob: (job, options = {}) => followedRun(self, { job, outputsDir: null }, options),
    sendMessages: async (topic, batch) => asAccepted(await postMessages(target, topic, batch)),
    addContent: async (file) => await withScratch(async (dir) => {
      // the DAG is made here, as the node would make it, and goes over as a CAR it checks block by block
      const store = createFsStore({ dataDir: dir })
      await store.start()
      try {
        const cid = await store.addPath(file)
        const roots = await self.importCar(store.exportCar(cid))
        if (roots[0] !== cid) throw notBac(`stores ${printable(JSON.stringify(roots), 200)}, not ${cid}`)
        return cid
      } finally {
        await store.stop()
      }
    }),
    importCar: async (car) => {
      const answer = await postContent(target, car)
      const roots = isObject(answer) ? answer.roots : undefined
      if (!Array.isArray(roots) || !roots.every((r) => typeof r === 'string' && cidAlone(r) === r)) throw notBac('does not name the CIDs it stored')
      return roots as string[]
    },
    exportCar: (cid, signal) => (async function * () { yield * await fetchContent(target, cid, signal) })(),
    catContent: (cid) => fileBytes(cid, async (out) => { await writeCarOut(self.exportCar(cid), cid, out) }),
    getContent: async (cid, out) => { await writeCarOut(self.exportCar(cid), cid, out) },
    close: async () => {}
  }
  return self
}
