import path from 'node:path'
import {
  cancelRun, cidAlone, defaultDataDir, isContentPath, fetchContent, parseContentPath, printable, fetchLogs, fetchRun, listRuns, openHistory, readRunLogs, RUN_ID_PATTERN, RunNotFoundError, UnsafeContentError, UsageError, writeCarOut,
  type ExecutionRecord, type LogChunk, type RunRecord, type RunStore, type StepRecord
} from '../../index.js'
import { EXIT } from '../exit.js'
import type { Io } from '../io.js'
import { withNode } from '../node-session.js'
import { nodeTarget } from './node.js'
import { duration } from '../render.js'

export interface HistoryOptions { dataDir?: string, json?: boolean, node?: string, token?: string }

type Described = { run: RunRecord, steps: StepRecord[], executions: ExecutionRecord[] }

/** Where the job commands read runs: a node's API, or the run store in the data dir. */
interface History {
  list: (limit: number, cid?: string) => Promise<RunRecord[]>
  describe: (id: string) => Promise<Described>
  logs: (id: string, options: { step?: string, follow?: boolean }, onChunk: (chunk: LogChunk) => void) => Promise<void>
  /** Writes a file or folder of the node's store to `target`. */
  get: (cid: string, target: string) => Promise<void>
}

/**
 * The node's API when one is named (`--node`, `$BAC_NODE`) or serves on the data dir; otherwise
 * the data dir's run store, read directly (no node needs to run).
 */
async function withHistory<T> (options: HistoryOptions, fn: (history: History) => Promise<T>): Promise<T> {
  const node = await nodeTarget(options)
  if (node !== undefined) {
    return await fn({
      list: async (limit, cid) => {
        const list: unknown = await listRuns(node, { limit, ...(cid !== undefined ? { cid } : {}) })
        if (!Array.isArray(list) || !list.every(isRunShaped)) throw notRuns()
        return list as RunRecord[]
      },
      describe: async (id) => {
        const answer: unknown = await fetchRun(node, id)
        if (!isRunShaped(answer)) throw notRuns()
        const { steps, executions, ...run } = answer as unknown as RunRecord & { steps: unknown, executions?: unknown }
        if (!Array.isArray(steps) || !steps.every((s) => typeof s === 'object' && s !== null && typeof (s as StepRecord).stepId === 'string' && typeof (s as StepRecord).status === 'string')) throw notRuns()
        if (executions !== undefined && (!Array.isArray(executions) || !executions.every((e) => typeof e === 'object' && e !== null && typeof (e as ExecutionRecord).stepId === 'string'))) throw notRuns()
        return { run, steps: steps as StepRecord[], executions: (executions ?? []) as ExecutionRecord[] }
      },
      logs: async (id, logOptions, onChunk) => { await fetchLogs(node, id, logOptions, onChunk) },
      get: async (cid, target) => { await writeCarOut(await fetchContent(node, cid), cid, target) }
    })
  }
  const dataDir = options.dataDir ?? defaultDataDir()
  const runs = await openHistory({ dataDir })
  try {
    return await fn({
      list: async (limit, cid) => runs.listRuns({ limit, ...(cid !== undefined ? { cid } : {}) }),
      describe: async (id) => {
        const run = find(runs, id)
        return { run, steps: runs.steps(run.id), executions: runs.executions(run.id) }
      },
      logs: async (id, logOptions, onChunk) => { await readRunLogs(runs, id, logOptions, onChunk) },
      get: async (cid, target) => { await withNode(dataDir, async (node) => { await node.store.get(cid, target) }) }
    })
  } finally {
    runs.close()
  }
}

/** Whether a node's answer looks like a run (its fields of the types bac gives them), before any is used. */
function isRunShaped (value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const run = value as Record<string, unknown>
  const text = (key: string, optional = false): boolean => (optional && run[key] === undefined) || typeof run[key] === 'string'
  const time = (key: string): boolean => run[key] === undefined || typeof run[key] === 'number'
  return text('id') && text('status') && text('pipeline', true) && text('pipelineFile', true) && text('summary', true) && text('reason', true) && text('resultCid', true) && text('provenanceCid', true) &&
    time('createdAt') && time('startedAt') && time('endedAt') &&
    (run.data === undefined || (Array.isArray(run.data) && run.data.every((d) => typeof d === 'string'))) &&
    (run.trigger === undefined || (typeof run.trigger === 'object' && run.trigger !== null)) &&
    (run.inputs === undefined || (typeof run.inputs === 'object' && run.inputs !== null))
}

const notRuns = (): UnsafeContentError => new UnsafeContentError('the node\'s answer', 'is not a run as a bac node gives it; nothing was done with it')

function find (runs: RunStore, id: string): RunRecord {
  const run = runs.findRun(id)
  if (run === undefined) throw new RunNotFoundError(id)
  return run
}

const clip = (text: string, width: number): string => {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat
}
const time = (ms: number | undefined): string => ms === undefined ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19)
const took = (run: RunRecord): string => run.startedAt === undefined ? '-' : duration((run.endedAt ?? Date.now()) - run.startedAt)

/** A CID given to --cid: a CID alone (`/ipfs/` allowed), as the store writes it. */
function cidOption (value: string): string {
  const cid = cidAlone(value)
  if (cid !== undefined) return cid
  throw new UsageError(isContentPath(value) ? `--cid takes a CID alone, not a path in one: '${printable(value, 80)}'` : `--cid takes a CID, got '${printable(value, 80)}'`)
}

/** `bac job list`: newest first, as the seed printed it (JOB ID, COMMAND, DATA, STATUS) plus when and how long. */
export async function jobListCommand (options: HistoryOptions & { limit?: string, cid?: string }, io: Io): Promise<number> {
  const limit = options.limit === undefined ? 20 : Number(options.limit)
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number of at least 1, got '${options.limit ?? ''}'`)
  const cid = options.cid === undefined ? undefined : cidOption(options.cid)
  const list = await withHistory(options, async (history) => await history.list(limit, cid))
  if (options.json === true) {
    io.out(`${JSON.stringify(list, null, 2)}\n`)
    return EXIT.ok
  }
  const rows = [['JOB ID', 'COMMAND', 'DATA', 'STATUS', 'STARTED', 'DURATION'], ...list.map((r) => [
    r.id, clip(r.summary ?? '', 32), (r.data ?? []).length === 0 ? '-' : `${r.data[0]?.slice(0, 12) ?? ''}${r.data.length > 1 ? ` +${r.data.length - 1}` : ''}`,
    r.status, time(r.startedAt ?? r.createdAt), took(r)
  ])]
  // what a node answers is shown, never obeyed: no control character reaches the terminal
  const shown = rows.map((row) => row.map((cell) => printable(String(cell), 400)))
  const widths = shown[0]?.map((_, i) => Math.max(...shown.map((row) => row[i]?.length ?? 0))) ?? []
  io.out(shown.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') + '\n')
  return EXIT.ok
}

/** `bac job describe <id>`: the run, its inputs, steps and attempts. */
export async function jobDescribeCommand (id: string, options: HistoryOptions, io: Io): Promise<number> {
  const { run, steps, executions } = await withHistory(options, async (history) => await history.describe(id))
  if (options.json === true) {
    io.out(`${JSON.stringify({ ...run, steps, executions }, null, 2)}\n`)
    return EXIT.ok
  }
  const lines = [
    `run:       ${run.id}`,
    `pipeline:  ${run.pipeline} (${run.pipelineFile})`,
    `status:    ${run.status}${run.reason !== undefined ? ` (${run.reason})` : ''}`,
    `trigger:   ${triggerLine(run.trigger ?? {})}`,
    `started:   ${time(run.startedAt)}   took: ${took(run)}`,
    `result:    ${run.resultCid ?? '-'}`,
    `record:    ${run.provenanceCid !== undefined ? `${run.provenanceCid} (bac provenance ${run.id}; bac verify ${run.resultCid ?? ''})` : '-'}`,
    `inputs:    ${Object.entries(run.inputs ?? {}).map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? String((v as { cid?: string }).cid) : JSON.stringify(v)}`).join(' ') || '-'}`,
    'steps:'
  ]
  for (const step of steps) {
    const attempts = executions.filter((e) => e.stepId === step.stepId)
    const took = step.startedAt !== undefined && step.endedAt !== undefined ? duration(step.endedAt - step.startedAt) : '-'
    lines.push(`  ${step.stepId.padEnd(16)} ${step.status.padEnd(11)} ${took.padEnd(8)} ${step.outputsCid ?? ''}${step.reason !== undefined ? `  ${step.reason}` : ''}`)
    for (const [item, from] of Object.entries(step.cachedFrom ?? {})) {
      lines.push(`    ${item === '-' ? '' : `item ${item} `}cached from run ${from.runId} on ${from.node}${from.attestation !== undefined ? ' (signed by that node)' : ''}`)
    }
    for (const e of attempts) {
      lines.push(`    attempt ${e.attempt}${e.item !== undefined ? ` item ${e.item}` : ''} on ${e.node}${e.peer !== undefined ? ` ${e.peer}` : ''} (${e.executor}): ${e.exitCode !== undefined ? `exit ${e.exitCode}` : (e.signal ?? (e.endedAt === undefined ? 'running' : 'no exit code'))}${e.error !== undefined ? `, ${e.error}` : ''}`)
    }
  }
  io.out(`${lines.map((line) => printable(line, 4000)).join('\n')}\n`)
  return EXIT.ok
}

/**
 * `bac job logs <id> [--step s] [-f]`: what each step printed, from its last attempt; with
 * `--follow`, every attempt's output as it is printed, until the run has ended.
 */
export async function jobLogsCommand (id: string, options: HistoryOptions & { step?: string, follow?: boolean }, io: Io): Promise<number> {
  let heading = ''
  await withHistory(options, async (history) => {
    await history.logs(id, { ...(options.step !== undefined ? { step: options.step } : {}), follow: options.follow === true }, (chunk) => {
      const key = `${chunk.stepId}${chunk.item !== undefined ? `/${chunk.item}` : ''}`
      if (options.follow === true) {
        // each line prefixed by its step (and item); ! marks stderr
        const prefix = `${chunk.stepId}${chunk.item !== undefined ? `[${chunk.item}]` : ''} ${chunk.stream === 'stderr' ? '!' : '|'} `
        io.out(chunk.text.split('\n').filter((line, i, all) => i < all.length - 1 || line !== '').map((line) => `${prefix}${line}\n`).join(''))
        return
      }
      const head = `== ${key} (attempt ${chunk.attempt} on ${chunk.node}) ==\n`
      if (head !== heading) io.out(head)
      heading = head
      if (chunk.text !== '') io.out(chunk.stream === 'stderr' ? chunk.text.replace(/^/gm, '! ') : chunk.text)
    })
  })
  return EXIT.ok
}

/** `bac job get <id> [dir]`: writes a run's result folder out (default `./<run-id>`). */
export async function jobGetCommand (id: string, target: string | undefined, options: HistoryOptions, io: Io): Promise<number> {
  const { run, destination } = await withHistory(options, async (history) => {
    const { run } = await history.describe(id)
    // what a node answers is not trusted: its run id becomes a folder name, its CID a download
    if (typeof run.id !== 'string' || !RUN_ID_PATTERN.test(run.id)) throw new UnsafeContentError('the node\'s answer', `names the run ${JSON.stringify(String(run.id).slice(0, 80))}, which is not a run id; nothing was written`)
    if (run.resultCid === undefined) throw new UsageError(`run ${run.id} has no result (it is ${run.status}${run.reason !== undefined ? `: ${run.reason}` : ''})`)
    if (typeof run.resultCid !== 'string') throw new UnsafeContentError('the node\'s answer', 'gives a result that is not a CID; nothing was written')
    parseContentPath(run.resultCid)
    const destination = path.resolve(target ?? run.id)
    await history.get(run.resultCid, destination)
    return { run, destination }
  })
  io.err(`wrote the result of run ${run.id} (${run.resultCid}) to ${destination}\n`)
  return EXIT.ok
}

/** `bac job cancel <id>`: cancels a run the node runs or holds waiting (it is not resumed later). */
export async function jobCancelCommand (id: string, options: HistoryOptions, io: Io): Promise<number> {
  const node = await nodeTarget(options)
  if (node === undefined) throw new UsageError(`no bac node is serving on ${options.dataDir ?? defaultDataDir()}: a run started by bac run is cancelled with Ctrl-C there; give --node <url> for a node elsewhere`)
  await cancelRun(node, id)
  io.err(`cancelling run ${id} on ${node.url}\n`)
  return EXIT.ok
}

/** How a run was started, in one line: the kind and what it took (file, message, fire time). */
function triggerLine (trigger: Readonly<Record<string, unknown>>): string {
  const kind = String(trigger.kind ?? 'manual')
  const file = trigger.file as { path?: string, cid?: string } | undefined
  if (kind === 'watch' && file !== undefined) return `watch ${file.path ?? ''} (${file.cid ?? ''})`
  if (kind === 'message') {
    const text = JSON.stringify(trigger.message ?? {})
    return `message ${text.length > 200 ? `${text.slice(0, 197)}...` : text}`
  }
  if (kind === 'schedule') return `schedule ${String(trigger.time ?? '')}`
  return kind
}
