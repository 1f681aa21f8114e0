import { readdirSync, readFileSync } from 'node:fs'

/**
 * The pids of running processes whose command line (NUL-separated, as in /proc) `matches`.
 * Zombies are left out: a killed orphan is re-parented to PID 1, which in some containers never
 * reaps it. Works whatever pid namespace the process was started in.
 */
export function processes (matches: (cmdline: string) => boolean): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (!matches(readFileSync(`/proc/${entry}/cmdline`, 'utf8'))) continue
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z') found.push(Number(entry))
    } catch {}
  }
  return found
}

/** Running processes whose command line holds `text` (a folder of the test's, say). */
export function processesWith (text: string): number[] {
  return processes((cmdline) => cmdline.includes(text))
}
