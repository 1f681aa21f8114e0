import { closeSync, readdirSync, readFileSync } from 'node:fs'

/** O_CLOEXEC as /proc/<pid>/fdinfo shows it (octal flags). */
const O_CLOEXEC = 0o2000000

/**
 * Closes what bac was started with beyond stdin, stdout and stderr and would hand on to every
 * step it starts (descriptors left open, without close-on-exec, by whatever started bac): bac
 * uses none of them, and a step must not reach them. Its own descriptors are all close-on-exec,
 * and the IPC channel of a parent Node process, if any, is kept. Linux only (/proc); elsewhere a
 * no-op.
 */
export function closeInheritedDescriptors (): void {
  let fds: string[]
  try {
    fds = readdirSync('/proc/self/fdinfo')
  } catch {
    return
  }
  const keep = new Set([process.env.NODE_CHANNEL_FD].filter((fd) => fd !== undefined).map(Number))
  for (const name of fds) {
    const fd = Number(name)
    if (!Number.isInteger(fd) || fd < 3 || keep.has(fd)) continue
    try {
      const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1]
      if (flags !== undefined && (parseInt(flags, 8) & O_CLOEXEC) === 0) closeSync(fd)
    } catch {
      // gone meanwhile, or not ours to look at
    }
  }
}

closeInheritedDescriptors()
