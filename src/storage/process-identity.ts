import { readFileSync } from 'node:fs'

/**
 * A process's start time as the kernel counts it (field 22 of /proc/<pid>/stat), so a pid that
 * was reused by another process is not mistaken for the one that owned a run. Undefined where
 * /proc is not available.
 */
export function processStart (pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[0] === 'Z' ? undefined : fields[19]
  } catch {
    return undefined
  }
}

/** Whether the process that recorded `(pid, start)` still runs. */
export function stillRunning (pid: number, start: string | null): boolean {
  const current = processStart(pid)
  if (current !== undefined) return start === null || current === start
  if (process.platform === 'linux') return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
