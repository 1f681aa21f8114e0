import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs'
import path from 'node:path'
import { defaultDataDir, openHistory, RunNotFoundError, UsageError, type RunRecord, type RunStore } from '../../index.js'
import { EXIT } from '../exit.js'
import type { Io } from '../io.js'
import { withNode } from '../node-session.js'
import { duration } from '../render.js'

export interface HistoryOptions { dataDir?: string, json?: boolean }

async function withHistory<T> (options: HistoryOptions, fn: (runs: RunStore) => T): Promise<T> {
  const runs = await openHistory({ dataDir: options.dataDir ?? defaultDataDir() })
  try {
    return fn(runs)
  } finally {
    runs.close()
  }
}

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

/** `bac job list`: newest first, as the seed printed it (JOB ID, COMMAND, DATA, STATUS) plus when and how long. */
export async function jobListCommand (options: HistoryOptions & { limit?: string }, io: Io): Promise<number> {
  const limit = options.limit === undefined ? 20 : Number(options.limit)
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number of at least 1, got '${options.limit ?? ''}'`)
  const list = await withHistory(options, (runs) => runs.listRuns({ limit }))
  if (options.json === true) {
    io.out(`${JSON.stringify(list, null, 2)}\n`)
    return EXIT.ok
  }
  const rows = [['JOB ID', 'COMMAND', 'DATA', 'STATUS', 'STARTED', 'DURATION'], ...list.map((r) => [
    r.id, clip(r.summary, 32), r.data.length === 0 ? '-' : `${r.data[0]?.slice(0, 12) ?? ''}${r.data.length > 1 ? ` +${r.data.length - 1}` : ''}`,
    r.status, time(r.startedAt ?? r.createdAt), took(r)
  ])]
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0))) ?? []
  io.out(rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') + '\n')
  return EXIT.ok
}

/** `bac job describe <id>`: the run, its inputs, steps and attempts. */
export async function jobDescribeCommand (id: string, options: HistoryOptions, io: Io): Promise<number> {
  const { run, steps, executions } = await withHistory(options, (runs) => {
    const found = find(runs, id)
    return { run: found, steps: runs.steps(found.id), executions: runs.executions(found.id) }
  })
  if (options.json === true) {
    io.out(`${JSON.stringify({ ...run, steps, executions }, null, 2)}\n`)
    return EXIT.ok
  }
  const lines = [
    `run:       ${run.id}`,
    `pipeline:  ${run.pipeline} (${run.pipelineFile})`,
    `status:    ${run.status}${run.reason !== undefined ? ` (${run.reason})` : ''}`,
    `trigger:   ${triggerLine(run.trigger)}`,
    `started:   ${time(run.startedAt)}   took: ${took(run)}`,
    `result:    ${run.resultCid ?? '-'}`,
    `inputs:    ${Object.entries(run.inputs).map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? String((v as { cid?: string }).cid) : JSON.stringify(v)}`).join(' ') || '-'}`,
    'steps:'
  ]
  for (const step of steps) {
    const attempts = executions.filter((e) => e.stepId === step.stepId)
    const took = step.startedAt !== undefined && step.endedAt !== undefined ? duration(step.endedAt - step.startedAt) : '-'
    lines.push(`  ${step.stepId.padEnd(16)} ${step.status.padEnd(11)} ${took.padEnd(8)} ${step.outputsCid ?? ''}${step.reason !== undefined ? `  ${step.reason}` : ''}`)
    for (const e of attempts) {
      lines.push(`    attempt ${e.attempt}${e.item !== undefined ? ` item ${e.item}` : ''} on ${e.node} (${e.executor}): ${e.exitCode !== undefined ? `exit ${e.exitCode}` : (e.signal ?? (e.endedAt === undefined ? 'running' : 'no exit code'))}${e.error !== undefined ? `, ${e.error}` : ''}`)
    }
  }
  io.out(`${lines.join('\n')}\n`)
  return EXIT.ok
}

/** The bytes of a file from `offset` to its current end. */
function readFrom (file: string, offset: number): Buffer {
  const fd = openSync(file, 'r')
  try {
    const size = fstatSync(fd).size
    if (size <= offset) return Buffer.alloc(0)
    const buffer = Buffer.alloc(size - offset)
    readSync(fd, buffer, 0, buffer.length, offset)
    return buffer
  } finally {
    closeSync(fd)
  }
}

/** How often `--follow` looks for new output. */
const FOLLOW_INTERVAL_MS = 200

/**
 * `bac job logs -f`: prints what the run's steps print as they print it, every attempt, until
 * the run has ended and every log is read to its end.
 */
async function followLogs (id: string, options: HistoryOptions & { step?: string }, io: Io): Promise<number> {
  const runs = await openHistory({ dataDir: options.dataDir ?? defaultDataDir() })
  const offsets = new Map<string, number>()
  try {
    const run = find(runs, id)
    for (;;) {
      const status = runs.getRun(run.id)?.status
      const ended = status !== 'running' && status !== 'queued'
      for (const e of runs.executions(run.id, options.step)) {
        for (const stream of ['stdout', 'stderr'] as const) {
          const file = e.logDir === undefined ? undefined : path.join(e.logDir, `${stream}.log`)
          if (file === undefined || !existsSync(file)) continue
          const done = offsets.get(file) ?? 0
          const fresh = readFrom(file, done)
          // while the run goes on, print whole lines only; at the end, everything
          const cut = ended ? fresh.length : fresh.lastIndexOf(10) + 1
          if (cut <= 0) continue
          const text = fresh.subarray(0, cut).toString('utf8')
          offsets.set(file, done + cut)
          const prefix = `${e.stepId}${e.item !== undefined ? `[${e.item}]` : ''} ${stream === 'stderr' ? '!' : '|'} `
          io.out(text.split('\n').filter((line, i, all) => i < all.length - 1 || line !== '').map((line) => `${prefix}${line}\n`).join(''))
        }
      }
      if (ended) return EXIT.ok
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_INTERVAL_MS))
    }
  } finally {
    runs.close()
  }
}

/** `bac job logs <id> [--step s]`: what each step printed, from its last attempt. */
export async function jobLogsCommand (id: string, options: HistoryOptions & { step?: string, follow?: boolean }, io: Io): Promise<number> {
  if (options.follow === true) return await followLogs(id, options, io)
  const executions = await withHistory(options, (runs) => {
    const run = find(runs, id)
    const all = runs.executions(run.id, options.step)
    if (options.step !== undefined && all.length === 0) throw new UsageError(`run ${run.id} has no step '${options.step}' that ran`)
    return all
  })
  const last = new Map<string, typeof executions[number]>()
  for (const e of executions) last.set(`${e.stepId}/${e.item ?? ''}`, e)
  for (const [key, e] of last) {
    io.out(`== ${key.replace(/\/$/, '')} (attempt ${e.attempt}) ==\n`)
    for (const stream of ['stdout', 'stderr'] as const) {
      const file = e.logDir === undefined ? undefined : path.join(e.logDir, `${stream}.log`)
      if (file !== undefined && existsSync(file)) {
        const text = readFileSync(file, 'utf8')
        if (text !== '') io.out(stream === 'stderr' ? text.replace(/^/gm, '! ') : text)
      }
    }
  }
  return EXIT.ok
}

/** `bac job get <id> [dir]`: writes a run's result folder out (default `./<run-id>`). */
export async function jobGetCommand (id: string, target: string | undefined, options: HistoryOptions, io: Io): Promise<number> {
  const run = await withHistory(options, (runs) => find(runs, id))
  if (run.resultCid === undefined) throw new UsageError(`run ${run.id} has no result (it is ${run.status}${run.reason !== undefined ? `: ${run.reason}` : ''})`)
  const destination = path.resolve(target ?? run.id)
  const cid = run.resultCid
  await withNode(options.dataDir, async (node) => { await node.store.get(cid, destination) })
  io.err(`wrote the result of run ${run.id} (${run.resultCid}) to ${destination}\n`)
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
