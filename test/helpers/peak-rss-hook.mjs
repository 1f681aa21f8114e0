// Loaded with `node --import <this file> …`: when the process exits, writes its peak resident set
// size in bytes (what /proc/<pid>/status calls VmHWM) to the file named by $BAC_PEAK_RSS_FILE.
// The variable is taken out of the environment at once, so the processes it starts write nothing.
import { writeFileSync } from 'node:fs'

const file = process.env.BAC_PEAK_RSS_FILE
delete process.env.BAC_PEAK_RSS_FILE
if (file !== undefined && file !== '') {
  process.on('exit', () => { writeFileSync(file, String(process.resourceUsage().maxRSS * 1024)) })
}
