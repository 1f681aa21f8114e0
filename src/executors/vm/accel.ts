import { spawn } from 'node:child_process'
import { accessSync, constants, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { release, version } from 'node:os'
import path from 'node:path'
import { dyingWithBac } from './lifeline.js'

/** How a VM is accelerated: KVM where it runs a guest here, else QEMU's software emulation. */
export type Accel = 'kvm' | 'tcg'

/** What the choice was made for: it holds until the host reboots, its kernel or /dev/kvm changes, or QEMU does. */
interface Host {
  readonly bootId: string
  readonly kernel: string
  readonly kvm: string
  readonly qemu: string
}

/** The choice as it is kept beside the saved states (`accel.json`). */
export interface AccelChoice {
  readonly accel: Accel
  /** Why: what the probe saw. */
  readonly reason: string
  /** When it was made (ms since the epoch). */
  readonly at: number
  /** What the probe cost (ms). */
  readonly probeMs: number
}

const FILE = 'accel.json'
/** The most a probe of KVM may take before it counts as not working. */
const PROBE_MS = 1000

/** The host as the choice depends on it. */
function host (qemu: string): Host {
  const read = (file: string): string => { try { return readFileSync(file, 'utf8').trim() } catch { return '' } }
  let kvm = 'none'
  try {
    const s = statSync('/dev/kvm')
    kvm = `${s.rdev}:${s.ino}:${Math.round(s.ctimeMs)}`
  } catch {}
  return { bootId: read('/proc/sys/kernel/random/boot_id'), kernel: `${release()} ${version()}`, kvm, qemu }
}

/**
 * The smallest guest there is: 64 KiB of firmware whose reset vector writes 1 to QEMU's
 * isa-debug-exit port, which ends QEMU with status 3. Under KVM with the CPU model the steps'
 * VMs use, it ends so within milliseconds where KVM runs guests; a host whose KVM refuses that
 * CPU (or hangs) fails it at once or within the probe's second.
 */
function probeFirmware (): Buffer {
  const blob = Buffer.alloc(64 * 1024, 0xf4)
  // mov al, 1; out 0xf4, al; hlt; jmp $-1 (real mode, at 0xffff0)
  Buffer.from([0xb0, 0x01, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]).copy(blob, 0xfff0)
  return blob
}

/** Runs the probe guest under KVM: whether it ended as it should, and what QEMU said. */
async function probe (qemu: string, dir: string): Promise<{ ok: boolean, said: string }> {
  const work = await mkdtemp(path.join(dir, '.probe-'))
  try {
    const firmware = path.join(work, 'probe.bin')
    await writeFile(firmware, probeFirmware())
    const args = ['-M', 'microvm,rtc=off', '-accel', 'kvm', '-cpu', 'host', '-m', '16', '-nodefaults', '-no-user-config', '-display', 'none',
      '-bios', firmware, '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04']
    // in a process group of its own, killed with it: a probe never outlives the second it has
    const command = dyingWithBac(qemu, args)
    const child = spawn(command.file, command.args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
    let said = ''
    child.stderr?.on('data', (chunk: Buffer) => { said = (said + chunk.toString()).slice(-2000) })
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        try { if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL') } catch {}
        said = `${said}\nno answer within ${PROBE_MS} ms`
      }, PROBE_MS)
      child.once('error', (err) => { said = err.message; clearTimeout(timer); resolve(null) })
      child.once('close', (status) => { clearTimeout(timer); resolve(status) })
    })
    return { ok: code === 3, said: said.split('\n').map((l) => l.trim()).filter((l) => l !== '').slice(-2).join('; ') }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/** The choice kept in `dir` for this host, if it still holds. */
export function rememberedAccel (dir: string, qemu: string): AccelChoice | undefined {
  try {
    const kept = JSON.parse(readFileSync(path.join(dir, FILE), 'utf8')) as AccelChoice & { host?: Host }
    const now = host(qemu)
    const same = kept.host !== undefined && (Object.keys(now) as Array<keyof Host>).every((k) => kept.host?.[k] === now[k])
    return same && (kept.accel === 'kvm' || kept.accel === 'tcg') ? { accel: kept.accel, reason: kept.reason, at: kept.at, probeMs: kept.probeMs } : undefined
  } catch {
    return undefined
  }
}

/** Keeps a choice for this host (written whole, then renamed: a reader sees the old or the new). */
export function rememberAccel (dir: string, qemu: string, choice: AccelChoice): void {
  const file = path.join(dir, FILE)
  writeFileSync(`${file}.${process.pid}`, `${JSON.stringify({ ...choice, host: host(qemu) })}\n`)
  renameSync(`${file}.${process.pid}`, file)
}

/**
 * The accelerator VMs use on this host: the one chosen before since it last booted (kept in
 * `dir`), else chosen now: TCG where /dev/kvm cannot be opened, else KVM if the probe guest runs
 * under it (at most a second), else TCG. `qemuVersion` names the QEMU it was chosen for.
 */
export async function chooseAccel (dir: string, qemu: string, qemuVersion: string): Promise<AccelChoice> {
  const kept = rememberedAccel(dir, qemuVersion)
  if (kept !== undefined) return kept
  await mkdir(dir, { recursive: true })
  const started = performance.now()
  let choice: AccelChoice
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK)
    const result = await probe(qemu, dir)
    const probeMs = Math.round(performance.now() - started)
    choice = result.ok
      ? { accel: 'kvm', reason: 'a probe guest ran under KVM', at: Date.now(), probeMs }
      : { accel: 'tcg', reason: `/dev/kvm is there, but a probe guest did not run under it (${result.said || 'no reason given'})`, at: Date.now(), probeMs }
  } catch {
    choice = { accel: 'tcg', reason: 'no /dev/kvm this user may open', at: Date.now(), probeMs: 0 }
  }
  rememberAccel(dir, qemuVersion, choice)
  return choice
}
