import path from 'node:path'
import type { ExecutionLayout, ExecutionSpec, Executor } from '../interfaces/executor.js'
import { runAttempt, type AttemptSettings } from './attempt.js'

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
    execute: async (spec, options = {}) => await runAttempt(spec, options, attemptSettings(spec, init, killGraceMs), {
      ...command(spec),
      env: { PATH: stepPath, HOME: spec.workDir, TMPDIR: spec.tmpDir ?? path.join(spec.workDir, 'tmp'), LANG: 'C.UTF-8', ...spec.env },
      cwd: spec.workDir,
      folders: spec.tmpDir === undefined ? [path.join(spec.workDir, 'tmp')] : []
    })
  }
}

/** The limits of one attempt: the spec's, else the executor's, else the defaults. */
export function attemptSettings (spec: ExecutionSpec, init: { maxLogBytes?: number, maxOutputBytes?: number }, killGraceMs: number): AttemptSettings {
  return {
    killGraceMs,
    maxLogBytes: spec.maxLogBytes ?? init.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES,
    maxOutputBytes: spec.maxOutputBytes ?? init.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
  }
}

/** The program and arguments of an action: `shell -c script`, or the command itself. */
export function command (spec: ExecutionSpec): { file: string, args: string[], describe: string } {
  return spec.action.kind === 'shell'
    ? { file: spec.action.shell, args: ['-c', spec.action.script], describe: spec.action.shell }
    : { file: spec.action.command, args: [...spec.action.args], describe: spec.action.command }
}

