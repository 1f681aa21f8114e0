import { createHash } from 'node:crypto'
import { lstatSync, readlinkSync, readFileSync, statSync } from 'node:fs'
import { chmod, lstat, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

/** The hostname inside a sandbox (the host's own is not shown). */
export const SANDBOX_HOSTNAME = 'sandbox'

/**
 * What of the host's /etc a sandbox sees, bound read-only over a placeholder: the linker's cache
 * and the `alternatives` links (awk is one), which change as packages come and go.
 */
const HOST_BOUND = ['ld.so.cache', 'alternatives']
/** Host files copied into the sandbox's /etc (or linked to where they point): the time zone and the OS name. */
const HOST_COPIED = ['localtime', 'os-release']

/** The user a step runs as, as the sandbox's /etc/passwd and /etc/group name it. */
export interface StepUser { readonly uid: number, readonly gid: number }

/** One entry of the sandbox's /etc: a file with its content, a link, or an empty placeholder to bind over. */
type Entry = { kind: 'file', content: string | Buffer } | { kind: 'link', target: string } | { kind: 'dir' }

/**
 * The sandbox's /etc, the same for every attempt: generated `passwd` and `group` (root and the
 * step's user only), `hosts` (localhost and the sandbox's name), `nsswitch.conf` (files only),
 * the host's time zone and OS name, and placeholders for the host files bound over them. Nothing
 * else: no shadow or gshadow, sudoers, ssh or ssl keys, machine-id. It is a folder in the system's
 * temporary folder named by its content (`bac-sandbox-etc-<uid>-<hash>`), made once and shared
 * by the bac processes of one user; one found there is used only if it is a folder of this user
 * that nobody else may write (else this process makes its own).
 */
export class SandboxEtc {
  private readonly entries: Record<string, Entry>
  private readonly name: string
  private ready: Promise<string> | undefined

  /** `root`: the folder it is made in. @default the system's temporary folder */
  constructor (user: StepUser, private readonly root = tmpdir()) {
    const name = user.uid === 65534 ? 'nobody' : 'step'
    const group = user.gid === 65534 ? 'nogroup' : 'step'
    this.entries = {
      passwd: { kind: 'file', content: `root:x:0:0:root:/root:/usr/sbin/nologin\n${name}:x:${user.uid}:${user.gid}:bac step:/work:/bin/sh\n` },
      group: { kind: 'file', content: `root:x:0:\n${group}:x:${user.gid}:\n` },
      hosts: { kind: 'file', content: `127.0.0.1\tlocalhost\n127.0.1.1\t${SANDBOX_HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n` },
      'nsswitch.conf': { kind: 'file', content: 'passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\nprotocols: files\nservices: files\n' },
      ...Object.fromEntries(HOST_COPIED.flatMap((file) => hostCopy(file))),
      ...Object.fromEntries(HOST_BOUND.flatMap((file) => hostPlaceholder(file)))
    }
    const hash = createHash('sha256').update(JSON.stringify(this.entries)).digest('hex').slice(0, 16)
    this.name = path.join(root, `bac-sandbox-etc-${process.getuid?.() ?? 'user'}-${hash}`)
  }

  /** bubblewrap's arguments for /etc: the folder read-only, the host's files bound over their placeholders. */
  async args (): Promise<string[]> {
    // checked at every use: a temporary folder may be cleaned up while bac runs, and its name then
    // taken by another user; a folder that is no longer this user's alone is made again
    if (this.ready !== undefined && !await this.trusted(await this.ready)) this.ready = undefined
    this.ready ??= this.make()
    const folder = await this.ready
    return [
      '--ro-bind', folder, '/etc',
      ...HOST_BOUND.filter((file) => this.entries[file] !== undefined).flatMap((file) => ['--ro-bind', `/etc/${file}`, `/etc/${file}`])
    ]
  }

  private async make (): Promise<string> {
    await mkdir(this.root, { recursive: true, mode: 0o700 })
    if (await this.trusted(this.name)) return this.name
    const made = await mkdtemp(path.join(this.root, 'bac-sandbox-etc-'))
    for (const [file, entry] of Object.entries(this.entries)) {
      const at = path.join(made, file)
      if (entry.kind === 'link') await symlink(entry.target, at)
      else if (entry.kind === 'file') await writeFile(at, entry.content)
      else await mkdir(at)
      // readable by the step's user whatever this process's umask
      if (entry.kind !== 'link') await chmod(at, entry.kind === 'dir' ? 0o755 : 0o644)
    }
    await chmod(made, 0o755)
    try {
      await rename(made, this.name)
      return this.name
    } catch {
      // made meanwhile by another process, or taken by someone else: use it, or this one
      if (await this.trusted(this.name)) {
        await rm(made, { recursive: true, force: true })
        return this.name
      }
      return made
    }
  }

  /** Whether a folder is this user's, written by no one else, and holds every entry. */
  private async trusted (folder: string): Promise<boolean> {
    try {
      const info = await lstat(folder)
      if (!info.isDirectory() || info.uid !== process.getuid?.() || (info.mode & 0o022) !== 0) return false
      for (const file of Object.keys(this.entries)) await lstat(path.join(folder, file))
      return true
    } catch {
      return false
    }
  }
}

/** A host file copied as it is: a link stays a link (to where it points), a file is copied; a missing one is left out. */
function hostCopy (file: string): Array<[string, Entry]> {
  try {
    const host = `/etc/${file}`
    if (lstatSync(host).isSymbolicLink()) return [[file, { kind: 'link', target: readlinkSync(host) }]]
    return [[file, { kind: 'file', content: readFileSync(host) }]]
  } catch {
    return []
  }
}

/** An empty file or folder to bind the host's own over, when the host has one. */
function hostPlaceholder (file: string): Array<[string, Entry]> {
  try {
    const info = statSync(`/etc/${file}`)
    return [[file, info.isDirectory() ? { kind: 'dir' } : { kind: 'file', content: '' }]]
  } catch {
    return []
  }
}
