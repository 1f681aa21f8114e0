import { existsSync } from 'node:fs'
import { chmod, chown, cp, lchown, lstat, mkdir, readdir, readFile, rename } from 'node:fs/promises'
import path from 'node:path'
import type { ExecutionLayout, ExecutionResult, ExecutionSpec, Executor } from '../interfaces/executor.js'
import { refused, runAttempt } from './attempt.js'
import { attemptSettings, command, DEFAULT_KILL_GRACE_MS } from './process.js'
import { SANDBOX_HOSTNAME, SandboxEtc, type StepUser } from './sandbox-etc.js'

export { refused }

/** The PATH inside the sandbox: the system's own folders (nothing of the host user's). */
export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
/** Where bubblewrap is looked for. */
const BWRAP_CANDIDATES = ['/usr/bin/bwrap', '/bin/bwrap', '/usr/local/bin/bwrap']
/** coreutils' env, which sets the step's environment after the drop to its user (under /usr, shown at the same path). */
const ENV_PROGRAM = '/usr/bin/env'
/** Where util-linux's setpriv is looked for (under /usr, which the sandbox shows at the same path). */
const SETPRIV_CANDIDATES = ['/usr/bin/setpriv', '/usr/sbin/setpriv']
/** Names that can be mount points: one plain path segment. */
export const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/
/** The host user a step runs as when bac runs as root: nobody. */
export const DEFAULT_SANDBOX_USER: StepUser = { uid: 65534, gid: 65534 }

export interface SandboxExecutorInit {
  /** The bubblewrap binary. @default the first of /usr/bin/bwrap, /bin/bwrap, /usr/local/bin/bwrap */
  bwrap?: string
  /**
   * The host user and group steps run as when bac runs as root (never 0). Otherwise steps run as
   * the user bac runs as. @default nobody and nogroup, 65534:65534
   */
  user?: StepUser
  /**
   * The folder the sandbox's /etc is made in: one only this user may write (a node gives its data
   * dir's). @default the system's temporary folder
   */
  etcRoot?: string
  /** @default 5000 */
  killGraceMs?: number
  maxLogBytes?: number
  maxOutputBytes?: number
}

/**
 * The `sandbox` executor: each attempt runs under bubblewrap with /usr read-only, a minimal /etc
 * (see `SandboxEtc`: no shadow, no keys), a private /tmp, /proc and /dev, no network (its own
 * network, PID, IPC, UTS and cgroup namespaces), inputs read-only at `/inputs/<name>` and
 * `/ipfs/<cid>`, outputs read-write at `/outputs`, the work folder at `/work`, a clean
 * environment, and death with its parent (bac).
 *
 * A step never runs as root: when bac runs as root, bubblewrap runs privileged and `setpriv`
 * makes the step a real unprivileged host user (`user`, nobody by default) with no capabilities
 * and no way to gain privileges, its work and outputs folders given to that user first;
 * otherwise bubblewrap maps the user bac runs as into its own user namespace. Everything the step
 * starts lives in the sandbox's PID namespace, which ends with the step. Stopping it ends the
 * whole sandbox at once: its filesystem is discarded, so there is nothing to shut down gracefully.
 */
export function createSandboxExecutor (init: SandboxExecutorInit = {}): Executor {
  const killGraceMs = init.killGraceMs ?? DEFAULT_KILL_GRACE_MS
  if (init.user !== undefined && !(isId(init.user.uid) && isId(init.user.gid) && init.user.uid !== 0 && init.user.gid !== 0)) {
    throw new RangeError(`sandbox executor option 'user' must be a uid and gid other than 0 (root), got ${JSON.stringify(init.user)}`)
  }
  const asRoot = process.getuid?.() === 0
  const user = asRoot ? init.user ?? DEFAULT_SANDBOX_USER : { uid: process.getuid?.() ?? 65534, gid: process.getgid?.() ?? 65534 }
  const etc = new SandboxEtc(user, init.etcRoot)
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
      const setpriv = asRoot ? SETPRIV_CANDIDATES.find((candidate) => existsSync(candidate)) : undefined
      const problem = bwrap === undefined
        ? 'the sandbox executor needs bubblewrap: apt-get install bubblewrap'
        : asRoot && setpriv === undefined
          ? 'the sandbox executor needs setpriv (util-linux) in /usr/bin to run steps as an unprivileged user when bac runs as root'
          : [...Object.keys(spec.inputs), ...Object.keys(spec.cids ?? {})].filter((n) => !SAFE_NAME.test(n)).map((n) => `cannot mount an input named ${JSON.stringify(n)}`)[0]
      if (problem !== undefined || bwrap === undefined) return refused(problem ?? 'bubblewrap not found')
      if (asRoot) await giveFolders([spec.workDir, spec.outputsDir], user)
      const copies = spec.writableCids === true ? await privateCopies(spec, asRoot ? user : undefined) : undefined
      const result = await runAttempt(spec, options, attemptSettings(spec, init, killGraceMs), {
        file: bwrap,
        args: bwrapArgs(spec, layout(spec), {
          etc: await etc.args(),
          ...(copies !== undefined ? { writableRoot: copies.root } : {}),
          ...(setpriv !== undefined ? { drop: dropTo(setpriv, user) } : {})
        }),
        env: {},
        cwd: spec.workDir,
        describe: command(spec).describe
      })
      if (copies !== undefined) await keepCopies(copies.root, Object.keys(spec.cids ?? {}), spec.outputsDir)
      return await explainStartFailure(result, spec)
    }
  }
}

function isId (n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < 2 ** 32 - 1
}

/** Makes the attempt's writable folders (unless they exist) and gives them to the step's user. */
async function giveFolders (dirs: readonly string[], user: StepUser): Promise<void> {
  await Promise.all(dirs.map(async (dir) => {
    if (!existsSync(dir)) await mkdir(dir, { recursive: true })
    await chown(dir, user.uid, user.gid)
  }))
}

/**
 * setpriv's arguments that make the step `user` for good: real, effective and saved ids, no
 * supplementary groups, no capabilities (none inheritable, ambient or in the bounding set) and
 * no_new_privs, so no setuid program gives any back.
 */
function dropTo (setpriv: string, user: StepUser): string[] {
  return [setpriv, `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--no-new-privs', '--']
}

/**
 * Copies of the CID inputs in one folder beside the work folder, for `writableCids`. The folder
 * is mounted at /ipfs as a whole: tools that edit in place (`sed -i`) write a temporary file
 * beside the target and rename it over, which fails on a file mounted on its own.
 */
export async function privateCopies (spec: ExecutionSpec, owner?: StepUser): Promise<{ root: string }> {
  const root = `${spec.workDir}.ipfs-copies`
  await mkdir(root, { recursive: true })
  if (owner !== undefined) await chown(root, owner.uid, owner.gid)
  for (const [cid, host] of Object.entries(spec.cids ?? {})) {
    await cp(host, path.join(root, cid), { recursive: true })
    await makeWritable(path.join(root, cid), owner)
  }
  return { root }
}

/**
 * Stored content is written out read-only; a private copy must be writable (by `owner`, when
 * given). A link is given to the owner, never followed: its target is not the copy's.
 */
async function makeWritable (target: string, owner?: StepUser): Promise<void> {
  const info = await lstat(target)
  if (owner !== undefined) await lchown(target, owner.uid, owner.gid)
  if (info.isSymbolicLink()) return
  await chmod(target, info.mode | 0o200)
  if (info.isDirectory()) for (const entry of await readdir(target)) await makeWritable(path.join(target, entry), owner)
}

/**
 * Moves the (possibly changed) copies into the outputs, as `ipfs/<cid>`. The step wrote the
 * outputs folder: when it made `ipfs` anything but a folder (a link to elsewhere, say), nothing
 * is moved there.
 */
export async function keepCopies (root: string, cids: readonly string[], outputsDir: string): Promise<void> {
  const into = path.join(outputsDir, 'ipfs')
  await mkdir(into).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err })
  if (!(await lstat(into)).isDirectory()) return
  for (const cid of cids) {
    try {
      await rename(path.join(root, cid), path.join(outputsDir, 'ipfs', cid))
    } catch {
      // the step removed it: nothing to keep
    }
  }
}

function bwrapArgs (spec: ExecutionSpec, paths: ExecutionLayout, how: { etc: string[], writableRoot?: string, drop?: string[] }): string[] {
  const env = { PATH: SANDBOX_PATH, HOME: '/work', TMPDIR: '/tmp', LANG: 'C.UTF-8', ...spec.env }
  const { file, args } = command(spec)
  // as root, the step's environment is set only after setpriv has dropped to the step's user
  // (env -i, run by that user): LD_PRELOAD and the like must never reach a process with root's rights
  const setenv = how.drop !== undefined
    ? ['--setenv', 'PATH', SANDBOX_PATH]
    : Object.entries(env).flatMap(([key, value]) => ['--setenv', key, value])
  // env reads NAME=VALUE words up to the first without '=': names are checked by the schema, and a
  // program whose name holds '=' runs by its path (./), so it is never read as one
  const program = how.drop !== undefined
    ? [...how.drop, ENV_PROGRAM, '-i', '--', ...Object.entries(env).map(([key, value]) => `${key}=${value}`), file.includes('=') && !file.includes('/') ? `./${file}` : file, ...args]
    : [file, ...args]
  const cids = Object.entries(spec.cids ?? {})
  return [
    '--die-with-parent',
    // as root, no user namespace: the step's user is a real host user (see dropTo)
    ...(how.drop !== undefined ? ['--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup-try'] : ['--unshare-all']),
    '--hostname', SANDBOX_HOSTNAME,
    '--ro-bind', '/usr', '/usr',
    ...['bin', 'lib', 'lib64', 'sbin'].flatMap((dir) => existsSync(`/${dir}`) ? ['--symlink', `usr/${dir}`, `/${dir}`] : []),
    ...how.etc,
    '--proc', '/proc',
    '--dev', '/dev',
    '--perms', '01777', '--tmpfs', '/tmp',
    ...(Object.keys(spec.inputs).length > 0 ? ['--perms', '0755', '--dir', '/inputs'] : []),
    ...Object.entries(spec.inputs).flatMap(([name, host]) => ['--ro-bind', host, paths.inputs[name] ?? '']),
    ...(how.writableRoot !== undefined
      ? ['--bind', how.writableRoot, '/ipfs']
      : [...(cids.length > 0 ? ['--perms', '0755', '--dir', '/ipfs'] : []), ...cids.flatMap(([cid, host]) => ['--ro-bind', host, paths.cids[cid] ?? ''])]),
    '--bind', spec.outputsDir, '/outputs',
    '--bind', spec.workDir, '/work',
    '--chdir', '/work',
    '--clearenv',
    ...setenv,
    '--',
    ...program
  ]
}

/**
 * bubblewrap reports a program it cannot start as `bwrap: execvp <name>: <reason>` on stderr with
 * exit code 1, setpriv as `setpriv: failed to execute <name>: <reason>` and env (as root) as
 * `/usr/bin/env: '<name>': <reason>`, with 127 or 126; turn
 * that into the same clear error the process executor gives.
 */
async function explainStartFailure (result: ExecutionResult, spec: ExecutionSpec): Promise<ExecutionResult> {
  if (result.exitCode === null || ![1, 126, 127].includes(result.exitCode) || result.stderrBytes > 4096) return result
  const stderr = await readFile(path.join(spec.logsDir, 'stderr.log'), 'utf8').catch(() => '')
  // as root, env starts the program (see bwrapArgs): its complaint must be the whole of stderr, so
  // that a step printing the same words is not taken for one that never started
  const match = /^(?:bwrap: execvp|setpriv: failed to execute) [^:]*: (.*)$/m.exec(stderr) ??
    new RegExp(`^${ENV_PROGRAM}: '[^'\\n]*': (.*)\\n?$`).exec(stderr)
  if (match === null) return result
  const reason = /No such file/.test(match[1] ?? '') ? 'no such program' : (match[1] ?? 'cannot execute')
  return { ...result, exitCode: null, error: `cannot start '${command(spec).describe}': ${reason} in the sandbox (PATH is ${SANDBOX_PATH})` }
}
