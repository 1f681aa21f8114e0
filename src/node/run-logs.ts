import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import path from 'node:path'
import { RunNotFoundError, UsageError } from '../interfaces/errors.js'
import type { LogChunk } from '../interfaces/node.js'
import type { ExecutionRecord, RunStore } from '../interfaces/run-store.js'

export interface RunLogsOptions {
  /** Only this step's attempts. */
  readonly step?: string
  /** Every attempt's output as it is printed, until the run has ended; otherwise the last attempt of each step (item, node), whole. */
  readonly follow?: boolean
  readonly signal?: AbortSignal
  /** How often `follow` looks for new output. @default 200 */
  readonly intervalMs?: number
}

/** The bytes of a file from `offset` to its current end (none when it does not exist). */
function readFrom (file: string, offset: number): Buffer {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch {
    return Buffer.alloc(0)
  }
  try {
    const size = fstatSync(fd).size
    if (size <= offset) return Buffer.alloc(0)
    const buffer = Buffer.alloc(size - offset)
    const read = readSync(fd, buffer, 0, buffer.length, offset)
    return buffer.subarray(0, read)
  } finally {
    closeSync(fd)
  }
}

const chunk = (e: ExecutionRecord, stream: 'stdout' | 'stderr', text: string): LogChunk =>
  ({ stepId: e.stepId, ...(e.item !== undefined ? { item: e.item } : {}), attempt: e.attempt, node: e.node, stream, text })

/**
 * What a run's steps printed, from the logs the run store points at: `bac job logs` on this
 * machine and `GET /api/v1/runs/<id>/logs` on a node both read them here. Resolves when done
 * (with `follow`, once the run has ended and every log is read to its end, or `signal` aborts).
 */
export async function readRunLogs (runs: RunStore, id: string, options: RunLogsOptions, emit: (chunk: LogChunk) => void): Promise<void> {
  const run = runs.findRun(id)
  if (run === undefined) throw new RunNotFoundError(id)
  const file = (e: ExecutionRecord, stream: string): string | undefined => e.logDir === undefined ? undefined : path.join(e.logDir, `${stream}.log`)
  if (options.follow !== true) {
    const all = runs.executions(run.id, options.step)
    if (options.step !== undefined && all.length === 0) throw new UsageError(`run ${run.id} has no step '${options.step}' that ran`)
    const last = new Map<string, ExecutionRecord>()
    // per node too: a `nodes: N` step ran on N nodes, and each node's output is its own
    for (const e of all) last.set(`${e.stepId}/${e.item ?? ''}/${e.node}`, e)
    for (const e of last.values()) {
      for (const stream of ['stdout', 'stderr'] as const) {
        const at = file(e, stream)
        emit(chunk(e, stream, at === undefined ? '' : readFrom(at, 0).toString('utf8')))
      }
    }
    return
  }
  const offsets = new Map<string, number>()
  for (;;) {
    const status = runs.getRun(run.id)?.status
    const ended = status !== 'running' && status !== 'queued'
    for (const e of runs.executions(run.id, options.step)) {
      for (const stream of ['stdout', 'stderr'] as const) {
        const at = file(e, stream)
        if (at === undefined) continue
        const done = offsets.get(at) ?? 0
        const fresh = readFrom(at, done)
        // while the run goes on, whole lines only; at the end, everything
        const cut = ended ? fresh.length : fresh.lastIndexOf(10) + 1
        if (cut <= 0) continue
        offsets.set(at, done + cut)
        emit(chunk(e, stream, fresh.subarray(0, cut).toString('utf8')))
      }
    }
    if (ended || options.signal?.aborted === true) return
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200))
  }
}
