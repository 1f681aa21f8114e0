import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Readable } from 'node:stream'
import type { ExecutionLayout, ExecutionResult, ExecutionSpec, Executor } from '../../interfaces/executor.js'
import { attemptLogs, attemptResult, followOutput } from '../attempt.js'
import { groupAlive, signalGroup } from '../process-group.js'
import { attemptSettings, command, DEFAULT_KILL_GRACE_MS } from '../process.js'
import { keepCopies, privateCopies, SANDBOX_PATH, SAFE_NAME, refused } from '../sandbox.js'
import { ImageStore, type ImageInfo } from './images.js'
import type { MachineShape, Prepared, VmBackend } from './backend.js'
import { lastLines, QemuBackend, shellQuote, type QemuInit } from './qemu.js'
import type { ImageConfig } from './oci-config.js'

/** Memory of a VM when the step names none. */
export const DEFAULT_VM_MEMORY_MIB = 256
/** The image of a step that names none: busybox only. */
export const DEFAULT_VM_IMAGE = 'base'
/** The least memory the kernel and the agent boot in. */
const MIN_VM_MEMORY_MIB = 96

export interface VmExecutorInit extends QemuInit {
  /** Where the images (and saved machine states) are. */
  imagesDir: string
  /** @default 5000 */
  killGraceMs?: number
  maxLogBytes?: number
  maxOutputBytes?: number
  /** The kernel image's name or digest. @default 'kernel' */
  kernel?: string
  /**
   * Start every VM from a saved state of a booted one (fast), or boot each from scratch (`false`:
   * seconds a step; for hosts where saving a state fails, and as the benchmark's baseline).
   * @default true
   */
  fromSnapshot?: boolean
  /** The hypervisor. @default QEMU microvm (QemuBackend) with this init's qemu, accel and boot timeout */
  backend?: VmBackend
  /** How long a VM may take from its start to running the step before it is stopped as stuck. @default 60 s (cold boots: the boot timeout) */
  startTimeoutMs?: number
}

/**
 * The `vm` executor: every attempt in its own QEMU microVM, started from a saved state of a VM
 * that booted the step's image and waits for a job (one cold boot per kernel, image and
 * machine size; each attempt still gets a fresh, unshared machine). The guest sees the same
 * paths as the sandbox executor: inputs read-only at `/inputs/<name>` and `/ipfs/<cid>`,
 * outputs at `/outputs`, the work folder at `/work`, the step's env and nothing else; no network
 * unless `resources.network`; CPUs and memory from `resources`. Stopping an attempt sends the
 * job SIGTERM inside the guest, then ends the VM after the grace period.
 */
export function createVmExecutor (init: VmExecutorInit): Executor & { readonly available: boolean, readonly images: ImageStore } {
  const killGraceMs = init.killGraceMs ?? DEFAULT_KILL_GRACE_MS
  const store = new ImageStore(init.imagesDir)
  const backend = init.backend ?? new QemuBackend(store.snapshotsDir(), init)
  const layout = (spec: Pick<ExecutionSpec, 'inputs' | 'outputsDir' | 'cids'>): ExecutionLayout => ({
    inputs: Object.fromEntries(Object.keys(spec.inputs).map((name) => [name, `/inputs/${name}`])),
    outputs: '/outputs',
    cids: Object.fromEntries(Object.keys(spec.cids ?? {}).map((cid) => [cid, `/ipfs/${cid}`]))
  })

  return {
    kind: 'vm',
    available: backend.missing() === undefined,
    images: store,
    layout,
    async identify (spec): Promise<string | undefined> {
      try {
        const [kernel, image] = await Promise.all([store.resolve(init.kernel ?? 'kernel'), store.resolve(spec.image ?? DEFAULT_VM_IMAGE)])
        return `${kernel.digest} ${image.digest}`
      } catch {
        return undefined
      }
    },
    async execute (spec, options = {}): Promise<ExecutionResult> {
      const started = performance.now()
      if (options.signal?.aborted === true) return notStarted()
      const problem = backend.missing() ??
        [...Object.keys(spec.inputs), ...Object.keys(spec.cids ?? {})].filter((n) => !SAFE_NAME.test(n)).map((n) => `cannot mount an input named ${JSON.stringify(n)}`)[0] ??
        shapeProblem(spec)
      if (problem !== undefined) return refused(problem)
      let kernel: ImageInfo
      let image: ImageInfo
      try {
        kernel = await store.resolve(init.kernel ?? 'kernel')
        image = await store.resolve(spec.image ?? DEFAULT_VM_IMAGE)
        if (kernel.kind !== 'kernel') return refused(`the image '${init.kernel ?? 'kernel'}' is a root filesystem, not a kernel: build one with bac image build images/kernel`)
        if (image.kind !== 'rootfs') return refused(`the image '${spec.image ?? DEFAULT_VM_IMAGE}' is a kernel, not a root filesystem`)
      } catch (err) {
        return refused((err as Error).message)
      }
      const shape = machineShape(spec)
      let ready: Prepared
      try {
        ready = await backend.prepare({ kernel, image }, shape, { fromSnapshot: init.fromSnapshot !== false })
      } catch (err) {
        return refused((err as Error).message)
      }
      // booting the first VM of a shape takes seconds: the step may have been stopped meanwhile
      if (aborted(options.signal)) return notStarted()

      if (Object.keys(spec.inputs).length + (spec.writableCids === true ? 0 : Object.keys(spec.cids ?? {}).length) > 0 && bwrapPath() === undefined) {
        return refused('the vm executor shares inputs through bubblewrap: apt-get install bubblewrap')
      }
      const settings = attemptSettings(spec, init, killGraceMs)
      const scratch = `${spec.workDir}.vm`
      const copies = spec.writableCids === true ? await privateCopies(spec) : undefined
      const shares = { job: path.join(scratch, 'job'), inputs: path.join(scratch, 'inputs'), ipfs: copies?.root ?? path.join(scratch, 'ipfs'), outputs: spec.outputsDir, work: spec.workDir }
      await Promise.all([shares.job, shares.inputs, shares.ipfs, spec.outputsDir, spec.workDir].map(async (d) => await mkdir(d, { recursive: true })))
      // every input is bound onto an empty mount point of the inputs (or ipfs) share, in a mount
      // namespace of QEMU's own; the guest sees only these
      const binds: string[] = []
      for (const [name, host] of Object.entries(spec.inputs)) binds.push(...await bindPoint(host, path.join(shares.inputs, name)))
      if (copies === undefined) for (const [cid, host] of Object.entries(spec.cids ?? {})) binds.push(...await bindPoint(host, path.join(shares.ipfs, cid)))
      await writeFile(path.join(shares.job, 'run'), runScript(spec, image.config))
      if (copies !== undefined) await writeFile(path.join(shares.job, 'ipfs-writable'), '')

      const vm = backend.command(ready, { kernel, image }, shape, shares, path.join(scratch, 'console.log'), copies !== undefined)
      const argv = binds.length === 0 ? vm : { file: bwrapPath() as string, args: ['--die-with-parent', '--dev-bind', '/', '/', ...binds, '--', vm.file, ...vm.args] }
      const logs = attemptLogs(spec, settings)
      const state = { timedOut: false, cancelled: false, stopping: false, killed: false, stuck: false }
      const timers = new Set<NodeJS.Timeout>()
      const child = backend.start(ready, argv)
      const pid = child.pid
      let control = ''
      let qemuErr = ''
      child.stdin?.on('error', () => {})
      // the clock, and randomness for the guest's pool (every VM starts from the same saved state)
      child.stdin?.write(`go ${Math.floor(Date.now() / 1000)} ${randomBytes(32).toString('hex')}\n`)
      // a VM that never gets to the step (a rare hang of an emulated guest) is stopped, not waited on
      const startTimeoutMs = init.startTimeoutMs ?? (ready.state !== undefined ? 60_000 : (init.bootTimeoutMs ?? 90_000))
      const stuck = setTimeout(() => { state.stuck = true; kill() }, startTimeoutMs)
      timers.add(stuck)
      child.stdout?.on('data', (chunk: Buffer) => {
        control += chunk.toString()
        if (/^running$/m.test(control)) { clearTimeout(stuck); timers.delete(stuck) }
      })
      child.stderr?.on('data', (chunk: Buffer) => { qemuErr = (qemuErr + chunk.toString()).slice(-4000) })
      // the job's stdout and stderr come on fds 3 and 4
      for (const [stream, fd] of [['stdout', 3], ['stderr', 4]] as const) {
        const source = child.stdio[fd] as Readable | null
        followOutput(source, stream, logs, options.onLog)
        source?.on('error', () => {})
      }
      const kill = (): void => { if (pid !== undefined && groupAlive(pid)) { state.killed = true; signalGroup(pid, 'SIGKILL') } }
      // SIGTERM to the job inside the guest; the whole VM ends after the grace period
      const stop = (): void => {
        if (state.stopping) return
        state.stopping = true
        child.stdin?.write('term\n')
        const timer = setTimeout(kill, settings.killGraceMs)
        timers.add(timer)
      }
      const onAbort = (): void => { state.cancelled = true; stop() }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      if (spec.timeoutMs !== undefined) timers.add(setTimeout(() => { state.timedOut = true; stop() }, spec.timeoutMs))

      const spawnError = await new Promise<Error | undefined>((resolve) => {
        child.once('error', (err) => { resolve(err) })
        child.once('close', () => { resolve(undefined) })
      })
      options.signal?.removeEventListener('abort', onAbort)
      for (const timer of timers) clearTimeout(timer)
      kill()
      await Promise.all([logs.stdout.close(), logs.stderr.close()])
      if (copies !== undefined) await keepCopies(copies.root, Object.keys(spec.cids ?? {}), spec.outputsDir)
      const consoleTail = await readFile(path.join(scratch, 'console.log'), 'utf8').catch(() => '')
      // what the guest's kernel printed (warnings and worse: an OOM kill, a panic) stays beside the logs
      if (consoleTail.trim() !== '') {
        await mkdir(spec.logsDir, { recursive: true })
        await writeFile(path.join(spec.logsDir, 'console.log'), consoleTail.slice(-64 * 1024))
      }
      await rm(scratch, { recursive: true, force: true })

      const status = /^(exit|oom|fail) (.*)$/m.exec(control)
      let exitCode: number | null = null
      let signal: string | null = null
      let error: string | undefined
      if (spawnError !== undefined) {
        error = `cannot start the VM: ${spawnError.message}`
      } else if (status?.[1] === 'exit' || status?.[1] === 'oom') {
        const code = Number(status[2])
        if (state.stopping && code > 128) signal = code === 143 ? 'SIGTERM' : `signal ${code - 128}`
        else exitCode = code
        if (status[1] === 'oom') error = `the step ran out of memory (${shape.memoryMiB} MiB; raise resources.memory)`
        else if (code === 127 && /can't execute '[^']*': No such file/.test(await readFile(path.join(spec.logsDir, 'stderr.log'), 'utf8').catch(() => ''))) {
          exitCode = null
          error = `cannot start '${command(spec).describe}': no such program in the image '${spec.image ?? DEFAULT_VM_IMAGE}' (PATH is ${SANDBOX_PATH})`
        }
      } else if (state.stuck) {
        const tail = lastLines(`${consoleTail}\n${qemuErr}`, 6)
        error = `the VM did not start the step within ${startTimeoutMs / 1000} s and was stopped${tail !== '' ? `:\n  ${tail}` : ''}`
      } else if (status?.[1] === 'fail') {
        error = `the VM's agent failed: ${status[2] ?? ''}`
      } else if (state.stopping) {
        signal = 'SIGKILL'
      } else {
        const tail = lastLines(`${consoleTail}\n${qemuErr}`, 6)
        error = `the VM stopped before the step ended${tail !== '' ? `:\n  ${tail}` : ''}`
      }
      return await attemptResult(spec, settings, logs, { exitCode, signal, timedOut: state.timedOut, cancelled: state.cancelled, ...(error !== undefined ? { error } : {}), started })
    }
  }
}

/** The machine an attempt gets: its memory and CPUs, and a network device only when asked. */
function machineShape (spec: ExecutionSpec): MachineShape {
  const memory = spec.resources?.memoryBytes
  return {
    memoryMiB: memory === undefined ? DEFAULT_VM_MEMORY_MIB : Math.ceil(memory / (1024 * 1024)),
    cpus: Math.max(1, Math.ceil(spec.resources?.cpus ?? 1)),
    network: spec.resources?.network === true
  }
}

function shapeProblem (spec: ExecutionSpec): string | undefined {
  const memory = spec.resources?.memoryBytes
  if (memory !== undefined && memory < MIN_VM_MEMORY_MIB * 1024 * 1024) {
    return `a VM needs at least ${MIN_VM_MEMORY_MIB}M of memory; the step asks for ${Math.round(memory / 1024 / 1024)}M (resources.memory)`
  }
  return undefined
}

/** The job's script, run by the guest agent's busybox: the work folder, a clean env, the action. */
/**
 * The job's script, run by the agent as root: the step's command with its environment (bac's
 * defaults, then the image's `Env`, then the step's), in the image's `WorkingDir` (made when
 * missing) or /work, as the image's `User` (the writable folders given to it) or root.
 */
function runScript (spec: ExecutionSpec, config: ImageConfig | undefined): string {
  const imageEnv = Object.fromEntries((config?.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))
  const env = { PATH: SANDBOX_PATH, HOME: '/work', TMPDIR: '/tmp', LANG: 'C.UTF-8', ...imageEnv, ...spec.env }
  const { file, args } = command(spec)
  const dir = config?.workingDir ?? '/work'
  const user = config?.user !== undefined && (config.user.uid !== 0 || config.user.gid !== 0) ? config.user : undefined
  const owner = user !== undefined ? `${user.uid}:${user.gid}` : ''
  const run = `/.bac/busybox env -i ${Object.entries(env).map(([k, v]) => shellQuote(`${k}=${v}`)).join(' ')} ${[file, ...args].map(shellQuote).join(' ')}`
  return [
    ...(dir !== '/work' ? [`/.bac/busybox mkdir -p ${shellQuote(dir)} || exit 126`] : []),
    ...(user !== undefined ? [`/.bac/busybox chown ${owner} /outputs /work ${dir !== '/work' ? shellQuote(dir) : ''} || exit 126`] : []),
    `cd ${shellQuote(dir)} || exit 126`,
    user !== undefined ? `exec /.bac/runas ${user.uid} ${user.gid} ${run}` : `exec ${run}`,
    ''
  ].join('\n')
}

/** Makes an empty mount point like `host` (a folder or a file) and returns bwrap's bind of it. */
async function bindPoint (host: string, point: string): Promise<string[]> {
  const info = await stat(host)
  if (info.isDirectory()) await mkdir(point, { recursive: true })
  else await writeFile(point, '')
  return ['--ro-bind', host, point]
}

function bwrapPath (): string | undefined {
  return ['/usr/bin/bwrap', '/bin/bwrap', '/usr/local/bin/bwrap'].find((c) => existsSync(c))
}

/** An attempt cancelled before its VM started. */
function notStarted (): ExecutionResult {
  return { exitCode: null, signal: null, timedOut: false, cancelled: true, durationMs: 0, stdoutBytes: 0, stderrBytes: 0, logTruncated: false, outputBytes: 0 }
}

function aborted (signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}
