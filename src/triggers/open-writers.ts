import { readdir, readFile, readlink } from 'node:fs/promises'

/** O_ACCMODE of the flags /proc/<pid>/fdinfo shows (octal): 1 write only, 2 read and write. */
const ACCESS_MODE = 0o3

/** How long one look at every process's descriptors answers for (a burst of files shares it). */
const FRESH_MS = 50

/** Processes looked at, at most, in one look (a machine has far fewer; a bound all the same). */
const MAX_PROCESSES = 100_000

/**
 * Which files some process holds open for writing, as Linux's /proc shows them: every descriptor
 * of every process this user may look at (all of them as root; its own user's otherwise). One look
 * at where the descriptors point serves the questions of the next 50 ms; the access mode is read
 * only for those that point at the file asked about. Where /proc is missing, no file is open.
 */
export class OpenWriters {
  private look: Promise<Map<string, string[]>> | undefined
  private lookedAt = 0

  /** Whether a process holds `file` (its real path) open for writing. */
  async holds (file: string): Promise<boolean> {
    if (this.look === undefined || Date.now() - this.lookedAt > FRESH_MS) {
      this.lookedAt = Date.now()
      this.look = descriptorsByPath()
    }
    for (const fd of (await this.look).get(file) ?? []) {
      try {
        const flags = /^flags:\s*([0-7]+)/m.exec(await readFile(fd.replace('/fd/', '/fdinfo/'), 'utf8'))?.[1]
        if (flags !== undefined && (parseInt(flags, 8) & ACCESS_MODE) !== 0) return true
      } catch {
        // closed meanwhile
      }
    }
    return false
  }
}

/** Every descriptor (`/proc/<pid>/fd/<n>`) that points at a file, by the file's path. */
async function descriptorsByPath (): Promise<Map<string, string[]>> {
  const byPath = new Map<string, string[]>()
  let pids: string[]
  try {
    pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).slice(0, MAX_PROCESSES)
  } catch {
    return byPath
  }
  await Promise.all(pids.map(async (pid) => {
    let fds: string[]
    try {
      fds = await readdir(`/proc/${pid}/fd`)
    } catch {
      // gone, or another user's
      return
    }
    await Promise.all(fds.map(async (n) => {
      const fd = `/proc/${pid}/fd/${n}`
      try {
        const target = await readlink(fd)
        // sockets, pipes and the like read as "type:[inode]"
        if (!target.startsWith('/')) return
        const list = byPath.get(target)
        if (list === undefined) byPath.set(target, [fd])
        else list.push(fd)
      } catch {
        // closed meanwhile
      }
    }))
  }))
  return byPath
}
