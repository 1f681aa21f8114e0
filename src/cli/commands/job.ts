import path from 'node:path'
import { cidAlone, isContentPath, printable, UsageError, type RunRecord } from '../../index.js'
import { EXIT } from '../exit.js'
import type { Io } from '../io.js'
import { withBacNode, type NodeOptions } from '../node-session.js'
import { duration } from '../render.js'

export interface HistoryOptions extends NodeOptions { json?: boolean }

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
  const list = await withBacNode(options, async (node) => await node.listRuns({ limit, ...(cid !== undefined ? { cid } : {}) }))
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
  const { run, steps, executions } = await withBacNode(options, async (node) => await node.describeRun(id))
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
      lines.push(`    attempt ${e.attempt}${e.item !== undefined ? ` item ${e.item}` : ''} on ${e.node}${e.peer !== undefined ? ` ${e.peer}` : ''} (${e.executor}): ` +
        `${e.exitCode !== undefined ? `exit ${e.exitCode}` : (e.signal ?? (e.endedAt === undefined ? 'running' : 'no exit code'))}${e.error !== undefined ? `, ${e.error}` : ''}`)
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
  await withBacNode(options, async (node) => {
    await node.logs(id, { ...(options.step !== undefined ? { step: options.step } : {}), follow: options.follow === true }, (chunk) => {
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
  const { run, destination } = await withBacNode(options, async (node) => {
    // what a node answers is checked before it is used: its run id becomes a folder name, its CID a download
    const { run } = await node.describeRun(id)
    if (run.resultCid === undefined) throw new UsageError(`run ${run.id} has no result (it is ${run.status}${run.reason !== undefined ? `: ${run.reason}` : ''})`)
    const destination = path.resolve(target ?? run.id)
    await node.getContent(run.resultCid, destination)
    return { run, destination }
  })
  io.err(`wrote the result of run ${run.id} (${run.resultCid}) to ${destination}\n`)
  return EXIT.ok
}

/** `bac job cancel <id>`: cancels a run the node runs or holds waiting (it is not resumed later). */
export async function jobCancelCommand (id: string, options: HistoryOptions, io: Io): Promise<number> {
  const where = await withBacNode(options, async (node) => {
    await node.cancelRun(id)
    return node.where
  })
  io.err(`cancelling run ${id} on ${where}\n`)
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
