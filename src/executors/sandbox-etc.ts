import { existsSync } from 'node:fs'

/**
 * What of the host's /etc a sandbox sees, read-only: what programs need to start and nothing
 * secret (the linker's cache, the `alternatives` links such as awk, the time zone, the OS name).
 * No shadow or gshadow, sudoers, ssh keys, ssl private keys, machine-id, or anything else.
 */
export const HOST_ETC = ['alternatives', 'ld.so.cache', 'localtime', 'os-release']

/** The hostname inside a sandbox (the host's own is not shown). */
export const SANDBOX_HOSTNAME = 'sandbox'

/** The user a step runs as, as the sandbox's /etc/passwd and /etc/group name it. */
export interface StepUser { readonly uid: number, readonly gid: number }

/**
 * The sandbox's /etc, as bubblewrap arguments: a read-only tmpfs holding generated `passwd` and
 * `group` (root and the step's user only), `hosts` (localhost and the sandbox's name) and
 * `nsswitch.conf` (files only), each read from a file descriptor from `firstFd` on (`files` is
 * their content, in order), and the host files of `HOST_ETC` that exist, bound read-only.
 */
export function sandboxEtc (user: StepUser, firstFd: number): { args: string[], files: Uint8Array[] } {
  const name = user.uid === 65534 ? 'nobody' : 'step'
  const group = user.gid === 65534 ? 'nogroup' : 'step'
  const generated: Record<string, string> = {
    passwd: `root:x:0:0:root:/root:/usr/sbin/nologin\n${name}:x:${user.uid}:${user.gid}:bac step:/work:/bin/sh\n`,
    group: `root:x:0:\n${group}:x:${user.gid}:\n`,
    hosts: `127.0.0.1\tlocalhost\n127.0.1.1\t${SANDBOX_HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
    'nsswitch.conf': 'passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\nprotocols: files\nservices: files\n'
  }
  const names = Object.keys(generated)
  return {
    args: [
      '--perms', '0755', '--tmpfs', '/etc',
      ...names.flatMap((file, i) => ['--perms', '0644', '--file', String(firstFd + i), `/etc/${file}`]),
      ...HOST_ETC.filter((file) => existsSync(`/etc/${file}`)).flatMap((file) => ['--ro-bind', `/etc/${file}`, `/etc/${file}`]),
      '--remount-ro', '/etc'
    ],
    files: names.map((file) => Buffer.from(generated[file] ?? ''))
  }
}
