import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import { VmError } from '../../interfaces/errors.js'
import type { MachineImages, MachineShape, Prepared, Shares, VmBackend } from './backend.js'
import type { ImageInfo } from './images.js'
import { dyingWithBac } from './lifeline.js'
import { chooseAccel, rememberAccel, rememberedAccel, type Accel, type AccelChoice } from './accel.js'

const run = promisify(execFile)

export type { Accel } from './accel.js'

export interface QemuInit {
  /** @default qemu-system-x86_64 from PATH (or /usr/bin) */
  qemu?: string
  /** `auto` tries KVM once (a boot to the guest agent) and falls back to TCG. @default 'auto' */
  accel?: Accel | 'auto'
  /** How long a cold boot may take to reach the guest agent. @default 90 s */
  bootTimeoutMs?: number
}

const QEMU_CANDIDATES = ['/usr/bin/qemu-system-x86_64', '/usr/local/bin/qemu-system-x86_64', '/bin/qemu-system-x86_64']

/**
 * The QEMU `microvm` backend: builds the command line of a machine, boots one to the guest agent
 * and saves its state ("ready", waiting for a job) once per kernel, image and machine size, and
 * starts every attempt's VM from that state. A VM started from the state is a fresh machine that
 * shares nothing with another one: its memory is a private copy, its root filesystem read-only
 * under a tmpfs overlay. The serial ports: 0 the kernel console (to a file), 1 control (stdio),
 * 2 and 3 the job's stdout and stderr (sockets on fds 3 and 4); the saved state comes on fd 5.
 */
export class QemuBackend implements VmBackend {
  private readonly saving = new Map<string, Promise<string>>()
  private accel: Promise<Accel> | undefined
  private version: Promise<string> | undefined
  readonly binary: string | undefined

  constructor (private readonly snapshotsDir: string, private readonly init: QemuInit = {}) {
    this.binary = init.qemu ?? QEMU_CANDIDATES.find((c) => existsSync(c))
  }

  /** Why this machine cannot run VMs, or undefined when it can (QEMU present). */
  missing (): string | undefined {
    if (this.binary === undefined) return 'the vm executor needs QEMU: apt-get install qemu-system-x86'
    return undefined
  }

  /** The command line of a VM of `shape` on `kernel` and `image`, sharing `shares`. */
  args (kernel: ImageInfo, image: ImageInfo, shape: MachineShape, shares: Shares, consoleLog: string, accel: Accel, writableIpfs = false): string[] {
    // a share the guest writes keeps the owners and modes it sets in extended attributes
    // (mapped-xattr): on the host, what it makes is QEMU's user's, mode 0600/0700, never setuid,
    // never a device node, whatever the guest's root asked for
    const fsdev = (tag: keyof Shares, readonly: boolean, remap: boolean): string[] => [
      '-fsdev', `local,id=${tag},path=${escapeOption(shares[tag])},security_model=${readonly ? 'none' : 'mapped-xattr'}${readonly ? ',readonly=on' : ''}${remap ? ',multidevs=remap' : ''}`,
      '-device', `virtio-9p-device,fsdev=${tag},mount_tag=${tag}`
    ]
    const cmdline = ['console=hvc0', 'quiet', 'panic=-1', ...(accel === 'tcg' ? [`tsc_early_khz=${tscKhz()}`] : [])].join(' ')
    return [
      '-M', 'microvm,rtc=off', '-accel', accel === 'kvm' ? 'kvm' : (shape.cpus > 1 ? 'tcg,thread=multi' : 'tcg'),
      '-cpu', accel === 'kvm' ? 'host' : 'max',
      '-m', String(shape.memoryMiB), '-smp', String(shape.cpus),
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-kernel', path.join(kernel.dir, 'vmlinux'), '-initrd', path.join(kernel.dir, 'initrd'), '-append', cmdline,
      '-device', 'virtio-serial-device,max_ports=4',
      '-chardev', `file,id=con,path=${escapeOption(consoleLog)}`, '-device', 'virtconsole,chardev=con,nr=0',
      '-chardev', 'stdio,id=ctl,signal=off', '-device', 'virtserialport,chardev=ctl,nr=1',
      '-chardev', 'socket,id=out,fd=3', '-device', 'virtserialport,chardev=out,nr=2',
      '-chardev', 'socket,id=err,fd=4', '-device', 'virtserialport,chardev=err,nr=3',
      '-drive', `id=root,file=${escapeOption(path.join(image.dir, 'rootfs.ext4'))},format=raw,if=none,readonly=on`, '-device', 'virtio-blk-device,drive=root',
      ...fsdev('job', false, false),
      ...fsdev('inputs', true, true),
      ...fsdev('ipfs', !writableIpfs, true),
      ...fsdev('outputs', false, false),
      ...fsdev('work', false, false),
      ...(shape.network ? ['-netdev', 'user,id=net0', '-device', 'virtio-net-device,netdev=net0'] : [])
    ]
  }

  /**
   * The accelerator VMs use here: chosen once per host boot (and kernel, /dev/kvm and QEMU), by a
   * probe guest that costs at most a second, and kept beside the saved states (`accel.js`).
   */
  async accelerator (): Promise<Accel> {
    const wanted = this.init.accel ?? 'auto'
    if (wanted !== 'auto') return wanted
    this.accel ??= (async () => {
      await this.ensureDir()
      return (await chooseAccel(this.snapshotsDir, this.binary ?? 'qemu-system-x86_64', await this.qemuVersion())).accel
    })()
    return await this.accel
  }

  /** The accelerator chosen on this host since it booted, if one was (nothing is probed). */
  async keptAccelerator (): Promise<AccelChoice | undefined> {
    if (this.binary === undefined) return undefined
    return rememberedAccel(this.snapshotsDir, await this.qemuVersion())
  }

  /**
   * KVM ran the probe guest but not a real one: TCG from now on (kept, so no later process tries
   * KVM again before the host reboots).
   */
  private async giveUpKvm (err: unknown): Promise<void> {
    const reason = `a guest did not boot under KVM (${err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)})`
    rememberAccel(this.snapshotsDir, await this.qemuVersion(), { accel: 'tcg', reason, at: Date.now(), probeMs: 0 })
    this.accel = Promise.resolve('tcg')
  }

  /**
   * The saved state of a VM of this kernel, image and shape waiting for its job; made on first
   * use by a cold boot (seconds) and kept under the images folder.
   */
  async readyState (kernel: ImageInfo, image: ImageInfo, shape: MachineShape): Promise<{ file: string, accel: Accel }> {
    const accel = await this.accelerator()
    try {
      return await this.readyStateWith(kernel, image, shape, accel)
    } catch (err) {
      if (accel !== 'kvm' || !(err instanceof VmError) || (this.init.accel ?? 'auto') !== 'auto') throw err
      await this.giveUpKvm(err)
      return await this.readyStateWith(kernel, image, shape, 'tcg')
    }
  }

  private async readyStateWith (kernel: ImageInfo, image: ImageInfo, shape: MachineShape, accel: Accel): Promise<{ file: string, accel: Accel }> {
    const key = createHash('sha256').update(JSON.stringify({
      kernel: kernel.digest, image: image.digest, shape, accel, qemu: await this.qemuVersion(), khz: accel === 'tcg' ? tscKhz() : 0, layout: 1
    })).digest('hex').slice(0, 32)
    const file = path.join(this.snapshotsDir, `${key}.state`)
    if (existsSync(file)) return { file, accel }
    let saving = this.saving.get(key)
    if (saving === undefined) {
      saving = this.saveOnce(kernel, image, shape, accel, file).finally(() => this.saving.delete(key))
      this.saving.set(key, saving)
    }
    return { file: await saving, accel }
  }

  async prepare (images: MachineImages, shape: MachineShape, options: { readonly fromSnapshot: boolean }): Promise<Prepared> {
    if (!options.fromSnapshot) return { accel: await this.accelerator() }
    const { file, accel } = await this.readyState(images.kernel, images.image, shape)
    return { state: file, accel }
  }

  command (prepared: Prepared, images: MachineImages, shape: MachineShape, shares: Shares, consoleLog: string, writableIpfs: boolean): { file: string, args: string[] } {
    const args = this.args(images.kernel, images.image, shape, shares, consoleLog, prepared.accel === 'kvm' ? 'kvm' : 'tcg', writableIpfs)
    // the saved state comes on fd 5 (see start)
    return dyingWithBac(this.binary ?? 'qemu-system-x86_64', [...args, ...(prepared.state !== undefined ? ['-incoming', 'fd:5'] : [])])
  }

  /** Starts a VM; the caller writes `go` on its stdin and reads fds 1, 3 and 4. */
  start (prepared: Prepared, argv: { file: string, args: string[] }): ChildProcess {
    const stateFd = prepared.state !== undefined ? openSync(prepared.state, 'r') : 'ignore'
    try {
      return spawn(argv.file, argv.args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', stateFd], detached: true, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } })
    } finally {
      if (typeof stateFd === 'number') closeSync(stateFd)
    }
  }

  private async ensureDir (): Promise<string> {
    await mkdir(this.snapshotsDir, { recursive: true })
    return this.snapshotsDir
  }

  private async qemuVersion (): Promise<string> {
    this.version ??= run(this.binary ?? 'qemu-system-x86_64', ['--version']).then((r) => r.stdout.split('\n')[0] ?? '', () => 'unknown')
    return await this.version
  }

  /**
   * Saves the state unless another process is saving it (a lock file beside it holds that
   * process's pid): then waits for its file. A lock whose process is gone is taken over.
   */
  private async saveOnce (kernel: ImageInfo, image: ImageInfo, shape: MachineShape, accel: Accel, file: string): Promise<string> {
    await this.ensureDir()
    const lock = `${file}.lock`
    for (;;) {
      let fd: number | undefined
      try {
        fd = openSync(lock, 'wx')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      if (fd !== undefined) {
        try {
          writeFileSync(fd, String(process.pid))
          if (existsSync(file)) return file
          return await this.save(kernel, image, shape, accel, file)
        } finally {
          closeSync(fd)
          await rm(lock, { force: true })
        }
      }
      const holder = Number(await readFile(lock, 'utf8').catch(() => ''))
      const age = Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now())
      // a holder that is gone, or a lock left empty by a process that died as it made it
      if ((holder > 0 && !alive(holder)) || (!(holder > 0) && age > 5000)) await rm(lock, { force: true })
      if (existsSync(file)) return file
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  private async save (kernel: ImageInfo, image: ImageInfo, shape: MachineShape, accel: Accel, file: string): Promise<string> {
    const dir = await mkdtemp(path.join(await this.ensureDir(), '.save-'))
    const staged = path.join(dir, 'state')
    try {
      // a boot that hangs under emulation is rare but real: one more try before giving up
      for (let attempt = 1; ; attempt++) {
        try {
          await this.bootToAgent(kernel, image, shape, dir, accel, this.init.bootTimeoutMs ?? 90_000, async (qmp) => {
            await qmp.command('migrate', { uri: `exec:cat > ${shellQuote(staged)}` })
            for (let i = 0; ; i++) {
              const status = (await qmp.command('query-migrate')) as { status?: string, 'error-desc'?: string }
              if (status.status === 'completed') break
              if (status.status === 'failed' || status.status === 'cancelled') throw new VmError(`cannot save the VM's state: ${status['error-desc'] ?? status.status}`)
              if (i > 1200) throw new VmError('saving the VM\'s state took over a minute')
              await new Promise((resolve) => setTimeout(resolve, 50))
            }
          })
          break
        } catch (err) {
          if (attempt >= 2 || !(err instanceof VmError) || !err.message.includes('did not reach')) throw err
        }
      }
      // what the state was saved from, so that bac image prune can tell when it is of no more use
      await writeFile(file.replace(/\.state$/, '.json'), `${JSON.stringify({ kernel: kernel.digest, image: image.digest, shape, accel, qemu: await this.qemuVersion() })}\n`)
      await rename(staged, file)
      return file
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }

  /**
   * Cold-boots a VM with empty shares until its agent says `ready`, then calls `atReady` with a
   * QMP connection, and stops the VM. Throws a VmError with the console's tail on failure.
   */
  private async bootToAgent (kernel: ImageInfo, image: ImageInfo, shape: MachineShape, dir: string, accel: Accel, timeoutMs: number, atReady: (qmp: Qmp) => Promise<void>): Promise<void> {
    const shares: Shares = { job: path.join(dir, 'job'), inputs: path.join(dir, 'inputs'), ipfs: path.join(dir, 'ipfs'), outputs: path.join(dir, 'outputs'), work: path.join(dir, 'work') }
    await Promise.all(Object.values(shares).map(async (d) => await mkdir(d, { recursive: true })))
    const socket = path.join(dir, 'qmp.sock')
    const consoleLog = path.join(dir, 'console.log')
    const command = dyingWithBac(this.binary ?? 'qemu-system-x86_64', [...this.args(kernel, image, shape, shares, consoleLog, accel), '-qmp', `unix:${socket},server=on,wait=off`])
    const child = spawn(command.file, command.args, {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'], detached: true
    })
    let stderr = ''
    let control = ''
    child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000) })
    const exited = new Promise<void>((resolve) => { child.on('close', () => { resolve() }) })
    const failure = async (what: string): Promise<VmError> => {
      const console = await readFile(consoleLog, 'utf8').catch(() => '')
      const tail = lastLines(`${console}\n${stderr}`, 8)
      return new VmError(`${what} (${accel}, ${shape.memoryMiB} MiB, image ${image.names[0] ?? image.digest})${tail !== '' ? `:\n  ${tail}` : ''}`)
    }
    try {
      const ready = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => { resolve(false) }, timeoutMs)
        child.stdout?.on('data', (chunk: Buffer) => {
          control += chunk.toString()
          if (/^(ready|fail .*)$/m.test(control)) { clearTimeout(timer); resolve(true) }
        })
        child.on('close', () => { clearTimeout(timer); resolve(false) })
      })
      const failed = /^fail (.*)$/m.exec(control)
      if (failed !== null) throw await failure(`the VM's agent failed: ${failed[1] ?? ''}`)
      if (!ready) throw await failure(`the VM did not reach its agent within ${Math.round(timeoutMs / 1000)} s`)
      const qmp = await Qmp.connect(socket)
      try {
        await atReady(qmp)
        await qmp.command('quit').catch(() => {})
      } finally {
        qmp.close()
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try { process.kill(-child.pid, 'SIGKILL') } catch {}
      }
      await exited
    }
  }
}

/** A minimal QMP client: one command at a time, events skipped. */
class Qmp {
  private buffer = ''
  private waiting: { resolve: (value: unknown) => void, reject: (err: Error) => void } | undefined

  private constructor (private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString()
      let newline
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, newline)
        this.buffer = this.buffer.slice(newline + 1)
        let message: { return?: unknown, error?: { desc?: string } }
        try {
          message = JSON.parse(line) as typeof message
        } catch {
          continue
        }
        const waiting = this.waiting
        if (waiting === undefined) continue
        if ('return' in message) { this.waiting = undefined; waiting.resolve(message.return) }
        if (message.error !== undefined) { this.waiting = undefined; waiting.reject(new VmError(`QMP: ${message.error.desc ?? 'error'}`)) }
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => { this.waiting?.reject(new VmError('QMP: QEMU closed the connection')); this.waiting = undefined })
  }

  static async connect (file: string): Promise<Qmp> {
    for (let i = 0; ; i++) {
      try {
        const socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(file)
          s.once('connect', () => { resolve(s) })
          s.once('error', reject)
        })
        const qmp = new Qmp(socket)
        await qmp.command('qmp_capabilities')
        return qmp
      } catch (err) {
        if (i > 100) throw new VmError(`cannot reach QEMU's monitor at ${file}: ${(err as Error).message}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
  }

  async command (execute: string, args?: Record<string, unknown>): Promise<unknown> {
    return await new Promise((resolve, reject) => {
      this.waiting = { resolve, reject }
      this.socket.write(`${JSON.stringify({ execute, ...(args !== undefined ? { arguments: args } : {}) })}\n`)
    })
  }

  close (): void {
    this.socket.destroy()
  }
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

let khz: number | undefined
/** The host's TSC rate in kHz: without it on the kernel command line, TCG boots sometimes hang. */
function tscKhz (): number {
  if (khz === undefined) {
    const mhz = /^cpu MHz\s*:\s*([0-9.]+)/m.exec(readFileSyncSafe('/proc/cpuinfo'))?.[1]
    khz = mhz !== undefined ? Math.round(Number(mhz) * 1000) : 2_000_000
  }
  return khz
}

function readFileSyncSafe (file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

/** QEMU option values separate on ',': a comma in a path is written twice. */
function escapeOption (value: string): string {
  return value.replaceAll(',', ',,')
}

/** The last `count` lines of a text that are not blank, indented for an error message. */
export function lastLines (text: string, count: number): string {
  return text.trim().split('\n').filter((l) => l.trim() !== '').slice(-count).join('\n  ')
}

export function shellQuote (value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`
}
