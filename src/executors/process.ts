import path from 'node:path'
import type { ExecutionLayout, ExecutionResult, ExecutionSpec, Executor } from '../interfaces/executor.js'
import { refused, runAttempt, type AttemptSettings } from './attempt.js'
import { probeContainment, type Containment, type ContainmentTools } from './pid-namespace.js'
import { programPath } from './program-path.js'
import { logger } from '../common/log.js'

const log = logger('executors')

/** Time between SIGTERM and SIGKILL when a step is stopped. */
export const DEFAULT_KILL_GRACE_MS = 5000
/** Bytes of stdout (and of stderr) kept per attempt. */
export const DEFAULT_MAX_LOG_BYTES = 10 * 1024 * 1024
/** Bytes an attempt's outputs folder may hold. */
export const DEFAULT_MAX_OUTPUT_BYTES = 10 * 1024 ** 3

export interface ProcessExecutorInit extends ContainmentTools {
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
 * The `process` executor: each attempt is a raw process with a clean environment (the step's env
 * plus PATH, HOME, TMPDIR and LANG), its output streamed to capped log files and to `onLog`,
 * stopped on timeout or cancel by SIGTERM then SIGKILL to its whole process group.
 *
 * Each attempt runs in a PID namespace of its own (see `probeContainment`), so every process it
 * starts, even one that called setsid, dies when the step ends, is stopped, or bac dies. Where no
 * PID namespace can be made, attempts run as plain process groups (anything left in the group dies
 * when the step exits, but a process in a new session can outlive it), and the first attempt's
 * stderr starts with a warning saying so.
 *
 * Inputs are the host paths as given. As root, the attempt's mount namespace binds each of them
 * read-only onto itself, so a step cannot change by accident the content a later step reads under
 * the same CID (root could undo it on purpose: a raw process is not isolated). As another user,
 * read-only holds only as far as file permissions do (use the sandbox or vm executor for real isolation).
 */
export function createProcessExecutor (init: ProcessExecutorInit = {}): Executor {
  const stepPath = init.path ?? process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'
  const killGraceMs = init.killGraceMs ?? DEFAULT_KILL_GRACE_MS
  let containment: Promise<Containment> | undefined
  let warned = false
  return {
    kind: 'process',
    layout: (spec): ExecutionLayout => ({ inputs: { ...spec.inputs }, outputs: spec.outputsDir, cids: { ...spec.cids } }),
    async execute (spec, options = {}): Promise<ExecutionResult> {
      containment ??= probeContainment(init)
      const contained = await containment
      const env = { PATH: stepPath, HOME: spec.workDir, TMPDIR: spec.tmpDir ?? path.join(spec.workDir, 'tmp'), LANG: 'C.UTF-8', ...spec.env }
      const { file, args, describe } = command(spec)
      let launch: { file: string, args: string[], notice?: string } = { file, args }
      if (contained.kind === 'pid-namespace' && options.signal?.aborted !== true) {
        // found here as execvp would: a missing program is reported as such (the wrapper's shell
        // would only exit 127), and no shell builtin stands in for the program
        const program = programPath(file, env.PATH, spec.workDir)
        if (program === undefined) return refused(`cannot start '${describe}': no such program`)
        // what the step reads as content is read-only for it, so one step cannot change what a
        // later one reads under the same CID (a private copy is made for writableCids elsewhere)
        const readOnly = spec.writableCids === true ? Object.values(spec.inputs) : [...new Set([...Object.values(spec.inputs), ...Object.values(spec.cids ?? {})])]
        launch = contained.wrap(program, args, readOnly)
      } else if (contained.kind === 'process-group' && !warned) {
        warned = true
        launch.notice = `bac: warning: steps run as plain process groups here (${contained.reason}): a process a step starts in a new session (setsid) can outlive the step and bac`
      }
      log.debug('start', { program: describe, containment: contained.kind, workDir: spec.workDir, readOnly: contained.kind === 'pid-namespace' })
      const result = await runAttempt(spec, options, attemptSettings(spec, init, killGraceMs), {
        ...launch,
        describe,
        env,
        cwd: spec.workDir,
        folders: spec.tmpDir === undefined ? [path.join(spec.workDir, 'tmp')] : []
      })
      log.debug('end', {
        program: describe,
        exitCode: result.exitCode,
        signal: result.signal,
        ms: Math.round(result.durationMs),
        timedOut: result.timedOut,
        cancelled: result.cancelled,
        ...(result.error !== undefined ? { error: result.error } : {})
      })
      return result
    }
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
