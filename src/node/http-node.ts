import { mkdtemp, open, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { asRunEvent, cancelRun, fetchContent, fetchLogs, fetchProvenance, fetchRun, followRun, listRuns, postContent, startRun, type NodeTarget } from '../api/client.js'
import { cidAlone, parseContentPath } from '../common/cid.js'
import { parseEnvelope } from '../common/dsse.js'
import { printable } from '../common/text.js'
import { UnsafeContentError, UserError } from '../interfaces/errors.js'
import type { RunEvent } from '../interfaces/engine.js'
import type { BacNode, LogChunk, RunDescription, RunEnd } from '../interfaces/node.js'
import type { ExecutionRecord, RunRecord, StepRecord } from '../interfaces/run-store.js'
import { createFsStore } from '../storage/index.js'
import { writeCarOut } from '../storage/car-out.js'

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
  if (typeof run.id === 'string' && !RUN_ID.test(run.id)) throw new UnsafeContentError('the node\'s answer', `names the run ${JSON.stringify(run.id.slice(0, 80))}, which is not a run id; nothing was written`)
  // its words are printed only through printable(): a status of any text is shown, never obeyed
  const ok = text('id') && text('status') && text('pipeline', true) && text('pipelineFile', true) && text('summary', true) && text('reason', true) &&
    text('resultCid', true) && text('provenanceCid', true) && time('createdAt') && time('startedAt') && time('endedAt') &&
    (run.data === undefined || (Array.isArray(run.data) && run.data.every((d) => typeof d === 'string'))) &&
    (run.trigger === undefined || isObject(run.trigger)) && (run.inputs === undefined || isObject(run.inputs))
  if (!ok) throw notBac('is not a run as a bac node gives it')
  if (run.resultCid !== undefined) parseContentPath(String(run.resultCid))
  const checked = run as Partial<RunRecord> & Pick<RunRecord, 'id' | 'status'>
  return { data: [], trigger: {}, inputs: {}, pipeline: '', pipelineFile: '', summary: '', createdAt: 0, ...checked }
}

function asDescription (value: unknown): RunDescription {
  if (!isObject(value)) throw notBac('is not a run as a bac node gives it')
  const { steps, executions, ...rest } = value
  const run = asRun(rest)
  if (!Array.isArray(steps) || !steps.every((s) => isObject(s) && typeof s.stepId === 'string' && typeof s.status === 'string')) throw notBac('is not a run as a bac node gives it (its steps are not steps)')
  if (executions !== undefined && (!Array.isArray(executions) || !executions.every((e) => isObject(e) && typeof e.stepId === 'string' && typeof e.attempt === 'number' && typeof e.node === 'string'))) throw notBac('is not a run as a bac node gives it (its attempts are not attempts)')
  return { run, steps: steps as StepRecord[], executions: (executions ?? []) as ExecutionRecord[] }
}

function asChunk (value: unknown): LogChunk {
  const c = value as Partial<LogChunk> | null
  if (!isObject(c) || typeof c.stepId !== 'string' || typeof c.attempt !== 'number' || typeof c.node !== 'string' || (c.stream !== 'stdout' && c.stream !== 'stderr') || typeof c.text !== 'string' || (c.item !== undefined && typeof c.item !== 'number')) {
    throw notBac('gives a log line that is not one')
  }
  return c as LogChunk
}

/** A temporary folder, removed when `fn` is done with it. */
async function withScratch<T> (fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bac-content-'))
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * A node reached through its HTTP API (`--node`, `$BAC_NODE`, or the node serving on the data
 * dir). Every answer is checked before it is used: run ids before they name folders, CIDs before
 * they are fetched, content block by block against its CIDs.
 */
export function httpNode (target: NodeTarget): BacNode {
  /** Follows a run the node started to its end: its events shown, a Ctrl-C sent on as a cancel. */
  const follow = async (runId: unknown, options: { readonly signal?: AbortSignal, readonly onEvent?: (event: RunEvent) => void }): Promise<RunEnd & { provenanceCid?: string }> => {
    // a run id becomes a folder name here: checked before anything is written
    if (typeof runId !== 'string' || !RUN_ID.test(runId)) throw new UnsafeContentError('the node\'s answer', `names the run ${JSON.stringify(String(runId).slice(0, 80))}, which is not a run id; nothing was written`)
    let end: (RunEnd & { provenanceCid?: string }) | undefined
    const onAbort = (): void => { void cancelRun(target, runId).catch(() => {}) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    if (options.signal?.aborted === true) onAbort()
    try {
      await followRun(target, runId, (raw) => {
        const event = asRunEvent(raw)
        options.onEvent?.(event)
        if (event.type === 'run:end') {
          end = {
            runId, status: event.status, ...(event.resultCid !== undefined ? { resultCid: event.resultCid } : {}), ...(event.reason !== undefined ? { reason: event.reason } : {}),
            ...(typeof event.provenanceCid === 'string' && cidAlone(event.provenanceCid) !== undefined ? { provenanceCid: event.provenanceCid } : {})
          }
        }
      })
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
    }
    if (end === undefined) throw new UserError(`the node at ${target.url} stopped sending before run ${runId} ended; bac job describe ${runId} --node ${target.url} tells how it went`)
    if (end.resultCid !== undefined) parseContentPath(end.resultCid)
    return end
  }
  return {
    where: target.url,
    listRuns: async (options = {}) => {
      const list = await listRuns(target, { ...(options.limit !== undefined ? { limit: options.limit } : {}), ...(options.before !== undefined ? { before: options.before } : {}), ...(options.cid !== undefined ? { cid: options.cid } : {}) })
      if (!Array.isArray(list)) throw notBac('is not a list of runs')
      return list.map(asRun)
    },
    describeRun: async (id) => asDescription(await fetchRun(target, id)),
    logs: async (id, options, onChunk) => { await fetchLogs(target, id, options, (chunk) => { onChunk(asChunk(chunk)) }) },
    cancelRun: async (id) => {
      await cancelRun(target, id)
      return id
    },
    provenance: async (id) => parseEnvelope(await fetchProvenance(target, id)),
    addContent: async (file) => await withScratch(async (dir) => {
      // the DAG is made here, as the node would make it, and goes over as a CAR it checks block by block
      const store = createFsStore({ dataDir: dir })
      await store.start()
      try {
        const cid = await store.addPath(file)
        const answer = await postContent(target, store.exportCar(cid)) as { roots?: unknown }
        if (!Array.isArray(answer.roots) || answer.roots[0] !== cid) throw notBac(`stores ${printable(JSON.stringify(answer.roots ?? null), 200)}, not ${cid}`)
        return cid
      } finally {
        await store.stop()
      }
    }),
    catContent: (cid) => (async function * () {
      yield * await withScratch(async (dir) => {
        const out = path.join(dir, 'content')
        await writeCarOut(await fetchContent(target, cid), cid, out)
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
    })(),
    getContent: async (cid, target2) => { await writeCarOut(await fetchContent(target, cid), cid, target2) },
    run: async (start, options) => {
      if (start.resume !== undefined) throw new UserError('--resume continues a run of the data dir: give --data-dir, not a node')
      // the node reads the caller's file inputs by their full path (on this machine), and checks them against the folders it allows
      const inputs = Object.fromEntries(Object.entries(start.inputs).map(([name, value]) => [name, start.pipeline.inputs[name]?.type === 'file' && !value.startsWith('/ipfs/') ? path.resolve(start.cwd, value) : value]))
      const { runId } = await startRun(target, {
        text: start.text,
        file: path.resolve(start.pipeline.file),
        inputs,
        // the result is fetched from the node below, not written by it into a folder of this machine
        outputsDir: null,
        ...(start.noCache === true ? { noCache: true } : {}),
        ...(start.concurrency !== undefined ? { concurrency: start.concurrency } : {}),
        ...(start.executor !== undefined ? { executor: start.executor } : {}),
        ...(start.image !== undefined ? { image: start.image } : {})
      })
      const end = await follow(runId, options)
      if (end.resultCid === undefined) return end
      const destination = path.join(path.resolve(start.outputsDir), runId)
      await writeCarOut(await fetchContent(target, end.resultCid), end.resultCid, destination)
      return { ...end, outputsDir: destination }
    },
    submitJob: async (job, options) => {
      const { runId } = await startRun(target, { job, outputsDir: null })
      return await follow(runId, options)
    },
    close: async () => {}
  }
}
