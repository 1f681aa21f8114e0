import { existsSync } from 'node:fs'
import { chmod, cp, mkdir, readdir, readFile, rename, stat } from 'node:fs/promises'
import path from 'node:path'
import type { ExecutionLayout, ExecutionResult, ExecutionSpec, Executor } from '../interfaces/executor.js'
import { runAttempt } from './attempt.js'
import { attemptSettings, command, DEFAULT_KILL_GRACE_MS } from './process.js'

/** The PATH inside the sandbox: the system's own folders (nothing of the host user's). */
export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
/** Where bubblewrap is looked for. */
const BWRAP_CANDIDATES = ['/usr/bin/bwrap', '/bin/bwrap', '/usr/local/bin/bwrap']
/** Names that can be mount points: one plain path segment. */
export const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/

export interface SandboxExecutorInit {
  /** The bubblewrap binary. @default the first of /usr/bin/bwrap, /bin/bwrap, /usr/local/bin/bwrap */
  bwrap?: string
  /** @default 5000 */
  killGraceMs?: number
  maxLogBytes?: number
  maxOutputBytes?: number
}

/**
 * The `sandbox` executor: each attempt runs under bubblewrap with the system folders read-only,
 * a private /tmp, /proc and /dev, no network (every namespace unshared), inputs read-only at
 * `/inputs/<name>` and `/ipfs/<cid>`, outputs read-write at `/outputs`, the work folder at
 * `/work`, a clean environment, and death with its parent (bac). Stopping it ends the whole
 * sandbox at once: its filesystem is discarded, so there is nothing to shut down gracefully.
 */
export function createSandboxExecutor (init: SandboxExecutorInit = {}): Executor {
  const killGraceMs = init.killGraceMs ?? DEFAULT_KILL_GRACE_MS
  const layout = (spec: Pick<ExecutionSpec, 'inputs' | 'outputsDir' | 'cids'>): ExecutionLayout => ({
    inputs: Object.fromEntries(Object.keys(spec.inputs).map((name) => [name, `/inputs/${name}`])),
    outputs: '/outputs',
    cids: Object.fromEntries(Object.keys(spec.cids ?? {}).map((cid) => [cid, `/ipfs/${cid}`]))
  })
  return {
    kind: 'sandbox',
    layout,
    async execute (spec, options = {}): Promise<ExecutionResult> {
      const bwrap = init.bwrap ?? BWRAP_CANDIDATES.find((candidate) => existsSync(candidate))
      const problem = bwrap === undefined
        ? 'the sandbox executor needs bubblewrap: apt-get install bubblewrap'
        : [...Object.keys(spec.inputs), ...Object.keys(spec.cids ?? {})].filter((n) => !SAFE_NAME.test(n)).map((n) => `cannot mount an input named ${JSON.stringify(n)}`)[0]
      if (problem !== undefined || bwrap === undefined) return refused(problem ?? 'bubblewrap not found')
      const copies = spec.writableCids === true ? await privateCopies(spec) : undefined
      const result = await runAttempt(spec, options, attemptSettings(spec, init, killGraceMs), {
        file: bwrap,
        args: bwrapArgs(spec, layout(spec), copies?.root),
        env: {},
        cwd: spec.workDir,
        describe: command(spec).describe
      })
      if (copies !== undefined) await keepCopies(copies.root, Object.keys(spec.cids ?? {}), spec.outputsDir)
      return await explainStartFailure(result, spec)
    }
  }
}

/**
 * Copies of the CID inputs in one folder beside the work folder, for `writableCids`. The folder
 * is mounted at /ipfs as a whole: tools that edit in place (`sed -i`) write a temporary file
 * beside the target and rename it over, which fails on a file mounted on its own.
 */
export async function privateCopies (spec: ExecutionSpec): Promise<{ root: string }> {
  const root = `${spec.workDir}.ipfs-copies`
  await mkdir(root, { recursive: true })
  for (const [cid, host] of Object.entries(spec.cids ?? {})) {
    await cp(host, path.join(root, cid), { recursive: true })
    await chmodWritable(path.join(root, cid))
  }
  return { root }
}

/** Stored content is written out read-only; a private copy must be writable. */
async function chmodWritable (target: string): Promise<void> {
  const info = await stat(target)
  await chmod(target, info.mode | 0o200)
  if (info.isDirectory()) for (const entry of await readdir(target)) await chmodWritable(path.join(target, entry))
}

/** Moves the (possibly changed) copies into the outputs, as `ipfs/<cid>`. */
export async function keepCopies (root: string, cids: readonly string[], outputsDir: string): Promise<void> {
  await mkdir(path.join(outputsDir, 'ipfs'), { recursive: true })
  for (const cid of cids) {
    try {
      await rename(path.join(root, cid), path.join(outputsDir, 'ipfs', cid))
    } catch {
      // the step removed it: nothing to keep
    }
  }
}

function bwrapArgs (spec: ExecutionSpec, paths: ExecutionLayout, writableRoot?: string): string[] {
  const env = { PATH: SANDBOX_PATH, HOME: '/work', TMPDIR: '/tmp', LANG: 'C.UTF-8', ...spec.env }
  const { file, args } = command(spec)
  return [
    '--die-with-parent',
    '--unshare-all',
    '--ro-bind', '/usr', '/usr',
    ...['bin', 'lib', 'lib64', 'sbin'].flatMap((dir) => existsSync(`/${dir}`) ? ['--symlink', `usr/${dir}`, `/${dir}`] : []),
    '--ro-bind', '/etc', '/etc',
    '--proc', '/proc',
    '--dev', '/dev',
    '--tmpfs', '/tmp',
    ...Object.entries(spec.inputs).flatMap(([name, host]) => ['--ro-bind', host, paths.inputs[name] ?? '']),
    ...(writableRoot !== undefined
      ? ['--bind', writableRoot, '/ipfs']
      : Object.entries(spec.cids ?? {}).flatMap(([cid, host]) => ['--ro-bind', host, paths.cids[cid] ?? ''])),
    '--bind', spec.outputsDir, '/outputs',
    '--bind', spec.workDir, '/work',
    '--chdir', '/work',
    '--clearenv',
    ...Object.entries(env).flatMap(([key, value]) => ['--setenv', key, value]),
    '--',
    file,
    ...args
  ]
}

/**
 * bubblewrap reports a program it cannot start as `bwrap: execvp <name>: <reason>` on stderr with
 * exit code 1; turn that into the same clear error the process executor gives.
 */
async function explainStartFailure (result: ExecutionResult, spec: ExecutionSpec): Promise<ExecutionResult> {
  if (result.exitCode !== 1 || result.stderrBytes > 4096) return result
  const stderr = await readFile(path.join(spec.logsDir, 'stderr.log'), 'utf8').catch(() => '')
  const match = /^bwrap: execvp [^:]*: (.*)$/m.exec(stderr)
  if (match === null) return result
  const reason = /No such file/.test(match[1] ?? '') ? 'no such program' : (match[1] ?? 'cannot execute')
  return { ...result, exitCode: null, error: `cannot start '${command(spec).describe}': ${reason} in the sandbox (PATH is ${SANDBOX_PATH})` }
}

export function refused (error: string): ExecutionResult {
  return { exitCode: null, signal: null, timedOut: false, cancelled: false, error, durationMs: 0, stdoutBytes: 0, stderrBytes: 0, logTruncated: false, outputBytes: 0 }
}
