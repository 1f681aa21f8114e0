import type { ChildProcess } from 'node:child_process'
import type { ImageInfo } from './images.js'

/** The size of a machine: a saved state fits only a machine of the same size. */
export interface MachineShape {
  readonly memoryMiB: number
  readonly cpus: number
  readonly network: boolean
}

/** The host folders a VM shares with its guest, by mount tag. */
export interface Shares {
  readonly job: string
  readonly inputs: string
  readonly ipfs: string
  readonly outputs: string
  readonly work: string
}

/** A machine made ready to start: from a saved state (fast), or booted from scratch each time. */
export interface Prepared {
  /** The saved state a VM starts from; undefined: each VM boots from scratch. */
  readonly state?: string
  /** How VMs run here (`kvm`, `tcg`, …), for messages. */
  readonly accel: string
}

/** What a VM boots: the kernel (with the guest agent) and the root filesystem. */
export interface MachineImages { readonly kernel: ImageInfo, readonly image: ImageInfo }

/**
 * A hypervisor the vm executor drives. QEMU `microvm` is the one here (./qemu.ts); another (a
 * Firecracker one, where its binary and KVM are present) would implement the same: the executor
 * owns the job (shares, scripts, logs, timeouts); a backend boots machines and starts them.
 *
 * The contract with the guest agent (images/kernel/init): a started VM's stdin and stdout are
 * the agent's control stream (`go <epoch> <seed>` in, `running` then `exit <code>`, `oom <code>`
 * or `fail <why>` out; `term` in asks the job to stop, and the stream's end ends the VM), its
 * fds 3 and 4 are the job's stdout and stderr.
 */
export interface VmBackend {
  /** Why VMs cannot run on this host, or undefined when they can. */
  missing: () => string | undefined
  /** Makes a machine of this kernel, image and shape ready to start (once per combination). */
  prepare: (images: MachineImages, shape: MachineShape, options: { readonly fromSnapshot: boolean }) => Promise<Prepared>
  /** The command line of one VM sharing `shares`, its console written to `consoleLog`. */
  command: (prepared: Prepared, images: MachineImages, shape: MachineShape, shares: Shares, consoleLog: string, writableIpfs: boolean) => { file: string, args: string[] }
  /** Starts a VM (in its own process group) from `argv`, which may wrap `command`'s. */
  start: (prepared: Prepared, argv: { file: string, args: string[] }) => ChildProcess
}
