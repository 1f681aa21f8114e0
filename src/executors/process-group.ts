/** Sends a signal to every process of a group; false when the group is gone. */
export function signalGroup (pid: number, signal: NodeJS.Signals): boolean {
  if (pid <= 1) return false
  try {
    process.kill(-pid, signal)
    return true
  } catch {
    return false
  }
}

/** Whether any process of the group is still alive (signal 0 probes without delivering). */
export function groupAlive (pid: number): boolean {
  if (pid <= 1) return false
  try {
    process.kill(-pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Stops a whole process group: SIGTERM, then SIGKILL if anything is left after `graceMs`.
 * Resolves once the kill is sent (or the group is gone); `timers` lets the caller clear it.
 */
export function terminateGroup (pid: number, graceMs: number, timers: Set<NodeJS.Timeout>): void {
  if (!signalGroup(pid, 'SIGTERM')) return
  const timer = setTimeout(() => {
    timers.delete(timer)
    if (groupAlive(pid)) signalGroup(pid, 'SIGKILL')
  }, graceMs)
  timers.add(timer)
}
