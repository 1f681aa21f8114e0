import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import { execa } from 'execa'
import type { ExecuteOptions, ExecutionLayout, ExecutionResult, ExecutionSpec, Executor } from '../interfaces/executor.js'
import { dirSize } from './dir-size.js'
import { CappedLog } from './log-file.js'
import { groupAlive, signalGroup, terminateGroup } from './process-group.js'

/** Time between SIGTERM and SIGKILL when a step is stopped. */
export const DEFAULT_KILL_GRACE_MS = 5000
/** Bytes of stdout (and of stderr) kept per attempt. */
export const DEFAULT_MAX_LOG_BYTES = 10 * 1024 * 1024
/** Bytes an attempt's outputs folder may hold. */
export const DEFAULT_MAX_OUTPUT_BYTES = 10 * 1024 ** 3

export interface ProcessExecutorInit {
  /** The PATH steps get. @default the PATH bac runs with */
  path?: string
  /** @default 5000 */
  killGraceMs?: number
  /** @default 10 MiB */
  maxLogBytes?: number
  /** @default 10 GiB */
  maxOutputBytes?: number
}

/**
 * The `process` executor: each attempt is a raw process in its own process group, with a clean
 * environment (the step's env plus PATH, HOME, TMPDIR and LANG), its output streamed to capped
 * log files and to `onLog`, stopped on timeout or cancel by SIGTERM then SIGKILL to the whole
 * group. Anything the step left running in its group is killed when the step exits.
 *
 * Inputs are the host paths as given: a raw process is not isolated, so "read-only" holds only
 * as far as file permissions do (use the sandbox or vm executor for real isolation).
 */
export function createProcessExecutor (init: ProcessExecutorInit = {}): Executor {
  const stepPath = init.path ?? process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'
  const killGraceMs = init.killGraceMs ?? DEFAULT_KILL_GRACE_MS
  return {
    kind: 'process',
    layout: (spec): ExecutionLayout => ({ inputs: { ...spec.inputs }, outputs: spec.outputsDir, cids: { ...spec.cids } }),
    execute: async (spec, options = {}) => await run(spec, options, {
      stepPath,
      killGraceMs,
      maxLogBytes: spec.maxLogBytes ?? init.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES,
      maxOutputBytes: spec.maxOutputBytes ?? init.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
    })
  }
}

interface RunSettings { stepPath: string, killGraceMs: number, maxLogBytes: number, maxOutputBytes: number }

async function run (spec: ExecutionSpec, options: ExecuteOptions, settings: RunSettings): Promise<ExecutionResult> {
  const started = performance.now()
  const tmp = path.join(spec.workDir, 'tmp')
  await Promise.all([mkdir(spec.logsDir, { recursive: true }), mkdir(tmp, { recursive: true }), mkdir(spec.outputsDir, { recursive: true })])
  const logs = { stdout: new CappedLog(path.join(spec.logsDir, 'stdout.log'), settings.maxLogBytes), stderr: new CappedLog(path.join(spec.logsDir, 'stderr.log'), settings.maxLogBytes) }
  const state = { timedOut: false, cancelled: options.signal?.aborted === true }
  const timers = new Set<NodeJS.Timeout>()
  const [file, args] = spec.action.kind === 'shell' ? [spec.action.shell, ['-c', spec.action.script]] : [spec.action.command, [...spec.action.args]]

  const subprocess = state.cancelled
    ? undefined
    : execa(file, args, {
      cwd: spec.workDir,
      env: { PATH: settings.stepPath, HOME: spec.workDir, TMPDIR: tmp, LANG: 'C.UTF-8', ...spec.env },
      extendEnv: false,
      detached: true,
      stdin: 'ignore',
      buffer: false,
      reject: false,
      encoding: 'buffer',
      stripFinalNewline: false
    })
  const pid = subprocess?.pid
  const stop = (): void => { if (pid !== undefined) terminateGroup(pid, settings.killGraceMs, timers) }
  const onAbort = (): void => { state.cancelled = true; stop() }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  if (spec.timeoutMs !== undefined && pid !== undefined) {
    timers.add(setTimeout(() => { state.timedOut = true; stop() }, spec.timeoutMs))
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    const decoder = new StringDecoder('utf8')
    subprocess?.[stream]?.on('data', (chunk: Buffer) => {
      logs[stream].write(chunk)
      const text = decoder.write(chunk)
      if (text !== '') options.onLog?.({ stream, text })
    })
  }
  // when the step's own process ends, whatever it left running in its group goes too; this also
  // closes pipes a background child held open, which would otherwise keep the step waiting
  subprocess?.on('exit', () => { if (pid !== undefined && groupAlive(pid)) signalGroup(pid, 'SIGKILL') })

  let result: Awaited<NonNullable<typeof subprocess>> | undefined
  try {
    result = subprocess === undefined ? undefined : await subprocess
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
    for (const timer of timers) clearTimeout(timer)
    await Promise.all([logs.stdout.close(), logs.stderr.close()])
  }
  const outputBytes = await dirSize(spec.outputsDir)
  let error: string | undefined
  if (subprocess !== undefined && pid === undefined) {
    error = (result as { code?: string } | undefined)?.code === 'ENOENT'
      ? `cannot start '${file}': no such program (PATH is ${settings.stepPath})`
      : `cannot start '${file}': ${result?.shortMessage ?? 'unknown error'}`
  } else if (outputBytes > settings.maxOutputBytes) {
    error = `the outputs hold ${outputBytes} bytes, more than the limit of ${settings.maxOutputBytes}`
  }
  return {
    exitCode: typeof result?.exitCode === 'number' ? result.exitCode : null,
    signal: result?.signal ?? null,
    timedOut: state.timedOut,
    cancelled: state.cancelled,
    ...(error !== undefined ? { error } : {}),
    durationMs: performance.now() - started,
    stdoutBytes: logs.stdout.total,
    stderrBytes: logs.stderr.total,
    logTruncated: logs.stdout.truncated || logs.stderr.truncated,
    outputBytes
  }
}
