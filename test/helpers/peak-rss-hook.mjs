// Loaded with `node --import <this file> …`: when the process exits, writes its peak resident set
// size in bytes to the file named by $BAC_PEAK_RSS_FILE. It is VmHWM from /proc/self/status, the
// peak of this program's own memory: getrusage's maxrss would also count the memory of the
// process that started it (Linux keeps the larger of the two across exec). The variable is taken
// out of the environment at once, so the processes this one starts write nothing.
import { readFileSync, writeFileSync } from 'node:fs'

const file = process.env.BAC_PEAK_RSS_FILE
delete process.env.BAC_PEAK_RSS_FILE

function peak () {
  try {
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]
    if (kib !== undefined) return Number(kib) * 1024
  } catch {}
  return process.resourceUsage().maxRSS * 1024
}

if (file !== undefined && file !== '') {
  process.on('exit', () => { writeFileSync(file, String(peak())) })
}
