import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { randomInt } from 'node:crypto'

/** Where util-linux's setpriv and unshare, and a POSIX sh, are looked for. */
const TOOL_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin']
/** How long the one-time check that PID namespaces work may take. */
const PROBE_TIMEOUT_MS = 10_000

/**
 * pid 1 of an attempt's PID namespace: it sets where the namespace's pids start (`$1`, so a step's
 * `$$` differs from step to step, as it does on the host: scripts name temporary files by it; only
 * root may, elsewhere this does nothing), then runs the step as its child, reaping whatever is
 * orphaned meanwhile, and exits with the step's status. The step is not pid 1 itself: pid 1 ignores
 * every signal it has no handler for, so SIGTERM would not stop a shell. When pid 1 exits, the
 * kernel kills everything left in the namespace, whatever session or group it moved to.
 */
const INIT = 'echo "$1" 2>/dev/null >/proc/sys/kernel/ns_last_pid; shift; ' +
  // then `$1` is mount (or empty), `$2` how many paths follow, each bound read-only onto itself
  // in the namespace's own mounts (the host's are untouched: propagation is one-way, to it)
  'm=$1; n=$2; shift 2; while [ "$n" -gt 0 ]; do "$m" --bind -o ro "$1" "$1" || exit 125; shift; n=$((n-1)); done; ' +
  '"$@"; exit $?'

/**
 * How the process executor keeps an attempt's processes together: in a PID namespace (`wrap`
 * gives the command line that runs a program there), or as a plain process group (`reason` says
 * why no namespace could be made).
 */
export type Containment =
  | {
    readonly kind: 'pid-namespace'
    /** The command line that runs `program` in a namespace of its own, with `readOnly` paths bound read-only there (when `readOnlyPaths`). */
    readonly wrap: (program: string, args: readonly string[], readOnly?: readonly string[]) => { file: string, args: string[] }
    /** Whether paths can be made read-only for the attempt (as root: a bind mount in its mount namespace). */
    readonly readOnlyPaths: boolean
  }
  | { readonly kind: 'process-group', readonly reason: string }

/** Where the tools that contain an attempt are (for a test, or a system that keeps them elsewhere). */
export interface ContainmentTools {
  /** util-linux's setpriv. @default the first found in /usr/bin, /bin, /usr/sbin, /sbin */
  setpriv?: string
  /** util-linux's unshare. @default likewise */
  unshare?: string
}

/**
 * Finds how attempts can be contained here: a PID namespace of their own (as root; otherwise in a
 * user namespace that maps the current user to itself), with a fresh /proc, killed as a whole
 * when its pid 1 ends, and with the parent-death signal set so that the namespace dies at once
 * when bac does (even by `kill -9`). It runs one attempt of `true` that way to check; when that
 * fails (no setpriv or unshare, namespaces not allowed), attempts run as plain process groups.
 *
 * The parent-death signal fires when the thread that started the attempt ends: attempts must be
 * started from a thread that lives as long as bac (the main thread does).
 */
export async function probeContainment (tools: ContainmentTools = {}): Promise<Containment> {
  const setpriv = tools.setpriv ?? findTool('setpriv')
  const unshare = tools.unshare ?? findTool('unshare')
  const sh = findTool('sh')
  const truth = findTool('true')
  if (setpriv === undefined || unshare === undefined || sh === undefined || truth === undefined) {
    return { kind: 'process-group', reason: 'util-linux\'s setpriv and unshare were not found' }
  }
  const pidMax = pidLimit()
  const candidates = process.getuid?.() === 0 ? [['--pid'], ['--user', '--map-current-user', '--pid']] : [['--user', '--map-current-user', '--pid']]
  const mount = findTool('mount')
  let reason = ''
  for (const namespaces of candidates) {
    const wrapWith = (binds: boolean) => (program: string, args: readonly string[], readOnly: readonly string[] = []): { file: string, args: string[] } => {
      const bound = binds ? readOnly : []
      return {
        file: setpriv,
        args: [
          '--pdeathsig', 'SIGKILL', '--',
          unshare, ...namespaces, '--mount-proc', '--propagation', 'slave', '--kill-child=SIGKILL', '--',
          sh, '-c', INIT, 'sh', String(randomInt(1000, pidMax)), mount ?? '', String(bound.length), ...bound, program, ...args
        ]
      }
    }
    const attempt = async (tried: { file: string, args: string[] }): Promise<string> => await new Promise<string>((resolve) => {
      execFile(tried.file, tried.args, { timeout: PROBE_TIMEOUT_MS, env: {} }, (error, _stdout, stderr) => {
        resolve(error === null ? '' : (stderr.trim().split('\n').pop() ?? '') || error.message)
      })
    })
    reason = await attempt(wrapWith(false)(truth, []))
    if (reason !== '') continue
    // read-only paths need mount, and the right to mount in the namespace (root's; a user's
    // namespace gives it to unshare, not to what unshare starts)
    const binds = mount !== undefined && await attempt(wrapWith(true)(truth, [], ['/usr'])) === ''
    return { kind: 'pid-namespace', wrap: wrapWith(binds), readOnlyPaths: binds }
  }
  return { kind: 'process-group', reason: `unshare cannot make a PID namespace here: ${reason}` }
}

function findTool (name: string): string | undefined {
  return TOOL_DIRS.map((dir) => `${dir}/${name}`).find((candidate) => existsSync(candidate))
}

/** Pids of a namespace start at a random point below this (half the system's limit). */
function pidLimit (): number {
  try {
    return Math.max(2000, Math.floor(Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')) / 2))
  } catch {
    return 16_384
  }
}
