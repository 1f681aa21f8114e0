import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { constants } from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import { execa } from 'execa'
import type { ExecuteOptions, ExecutionResult, ExecutionSpec } from '../interfaces/executor.js'
import { dirSize } from './dir-size.js'
import { CappedLog } from './log-file.js'
import { groupAlive, signalGroup, terminateGroup } from './process-group.js'

export interface AttemptSettings { killGraceMs: number, maxLogBytes: number, maxOutputBytes: number }

/**
 * How long output may still come once the attempt's process has ended. Whatever it wrote is read
 * at once; only a process outside its reach (one that left the group where nothing else contains
 * it) keeps the pipes open longer, and the attempt does not wait for it.
 */
export const DRAIN_MS = 1000

/** How an executor starts an attempt: the program, its arguments, environment and folder. */
export interface Launch {
  file: string
  args: string[]
  env: Record<string, string>
  cwd: string
  describe: string
  /** Folders to make first, unless they exist. */
  folders?: string[]
  /** A line the attempt's stderr starts with (a warning of bac's, not the step's). */
  notice?: string
}

/**
 * Runs one attempt as a process group (the step itself, or a wrapper or sandbox around it):
 * streams output to capped logs and `onLog`, stops the group on timeout or abort (SIGTERM, then
 * SIGKILL after the grace period), kills what the step left behind in its group when it exits,
 * stops reading output `DRAIN_MS` after that, and measures its outputs.
 *
 * A wrapper whose own pid 1 cannot die of a signal reports a step killed by signal N as exit
 * code 128+N; when bac itself stopped the attempt with that signal, the result says so.
 */
export async function runAttempt (spec: ExecutionSpec, options: ExecuteOptions, settings: AttemptSettings, launch: Launch): Promise<ExecutionResult> {
  const started = performance.now()
  // the log folder is made with the first byte of output (a quiet step makes no files there)
  // the caller may have made them ahead (a stat is much cheaper than a round trip to make one)
  await Promise.all([spec.workDir, spec.outputsDir, ...launch.folders ?? []].filter((dir) => !existsSync(dir)).map(async (dir) => await mkdir(dir, { recursive: true })))
  const logs = attemptLogs(spec, settings)
  const state = { timedOut: false, cancelled: options.signal?.aborted === true }
  const timers = new Set<NodeJS.Timeout>()
  if (launch.notice !== undefined && !state.cancelled) {
    logs.stderr.write(Buffer.from(`${launch.notice}\n`))
    options.onLog?.({ stream: 'stderr', text: `${launch.notice}\n` })
  }

  const subprocess = state.cancelled
    ? undefined
    : execa(launch.file, launch.args, {
      cwd: launch.cwd,
      env: launch.env,
      extendEnv: false,
      detached: true,
      stdin: 'ignore',
      buffer: false,
      reject: false,
      encoding: 'buffer',
      stripFinalNewline: false,
      // the group is stopped here (SIGTERM, then SIGKILL after the grace period) and on exit by the
      // caller's abort; execa's own timers and exit hooks would only add time to every start
      cleanup: false,
      forceKillAfterDelay: false
    })
  const pid = subprocess?.pid
  const stop = (): void => { if (pid !== undefined) terminateGroup(pid, settings.killGraceMs, timers) }
  const onAbort = (): void => { state.cancelled = true; stop() }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  if (spec.timeoutMs !== undefined && pid !== undefined) {
    timers.add(setTimeout(() => { state.timedOut = true; stop() }, spec.timeoutMs))
  }
  for (const stream of ['stdout', 'stderr'] as const) followOutput(subprocess?.[stream], stream, logs, options.onLog)
  // when the step's own process ends, whatever it left running in its group goes too; this also
  // closes pipes a background child held open, which would otherwise keep the step waiting. A
  // process that left the group (and that nothing else contains) may still hold them: output is
  // read for DRAIN_MS more, then the pipes are let go
  subprocess?.on('exit', () => {
    if (pid !== undefined && groupAlive(pid)) signalGroup(pid, 'SIGKILL')
    const drained = setTimeout(() => { subprocess.stdout?.destroy(); subprocess.stderr?.destroy() }, DRAIN_MS)
    timers.add(drained)
  })

  let result: Awaited<NonNullable<typeof subprocess>> | undefined
  try {
    result = subprocess === undefined ? undefined : await subprocess
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
    for (const timer of timers) clearTimeout(timer)
    await Promise.all([logs.stdout.close(), logs.stderr.close()])
  }
  let error: string | undefined
  if (subprocess !== undefined && pid === undefined) {
    error = (result as { code?: string } | undefined)?.code === 'ENOENT'
      ? `cannot start '${launch.describe}': no such program`
      : `cannot start '${launch.describe}': ${result?.shortMessage ?? 'unknown error'}`
  }
  const stopped = (state.timedOut || state.cancelled) && result?.exitCode === 128 + constants.signals.SIGTERM
  return await attemptResult(spec, settings, logs, {
    exitCode: typeof result?.exitCode === 'number' && !stopped ? result.exitCode : null,
    signal: stopped ? 'SIGTERM' : result?.signal ?? null,
    timedOut: state.timedOut,
    cancelled: state.cancelled,
    ...(error !== undefined ? { error } : {}),
    started
  })
}

/** The two capped logs of an attempt, `stdout.log` and `stderr.log` in its logs folder. */
export type AttemptLogs = Record<'stdout' | 'stderr', CappedLog>

export function attemptLogs (spec: ExecutionSpec, settings: AttemptSettings): AttemptLogs {
  return { stdout: new CappedLog(path.join(spec.logsDir, 'stdout.log'), settings.maxLogBytes), stderr: new CappedLog(path.join(spec.logsDir, 'stderr.log'), settings.maxLogBytes) }
}

/** Feeds one output stream of a step into its capped log, and to `onLog` as UTF-8 text. */
export function followOutput (source: Readable | null | undefined, stream: 'stdout' | 'stderr', logs: AttemptLogs, onLog?: ExecuteOptions['onLog']): void {
  const decoder = new StringDecoder('utf8')
  source?.on('data', (chunk: Buffer) => {
    logs[stream].write(chunk)
    const text = decoder.write(chunk)
    if (text !== '') onLog?.({ stream, text })
  })
}

/** How an attempt ended, as its result says: the outputs are measured, and held to their limit unless it failed already. */
export async function attemptResult (
  spec: ExecutionSpec,
  settings: AttemptSettings,
  logs: AttemptLogs,
  ended: Pick<ExecutionResult, 'exitCode' | 'signal' | 'timedOut' | 'cancelled' | 'error'> & { started: number }
): Promise<ExecutionResult> {
  const outputBytes = await dirSize(spec.outputsDir)
  const error = ended.error ?? (outputBytes > settings.maxOutputBytes ? `the outputs hold ${outputBytes} bytes, more than the limit of ${settings.maxOutputBytes}` : undefined)
  return {
    exitCode: ended.exitCode,
    signal: ended.signal,
    timedOut: ended.timedOut,
    cancelled: ended.cancelled,
    ...(error !== undefined ? { error } : {}),
    durationMs: performance.now() - ended.started,
    stdoutBytes: logs.stdout.total,
    stderrBytes: logs.stderr.total,
    logTruncated: logs.stdout.truncated || logs.stderr.truncated,
    outputBytes
  }
}

/** The result of an attempt that could not start. */
export function refused (error: string): ExecutionResult {
  return { exitCode: null, signal: null, timedOut: false, cancelled: false, error, durationMs: 0, stdoutBytes: 0, stderrBytes: 0, logTruncated: false, outputBytes: 0 }
}
