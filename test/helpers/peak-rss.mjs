// Peak memory of a command, measured as the user runs it: a fresh process. For node programs
// (bac), the process itself reports its peak RSS (VmHWM) as it exits (peak-rss-hook.mjs); others
// (cp, cat) are measured by GNU time where it is installed. Used by test/storage/memory.test.ts
// and bench/memory.bench.mjs.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HOOK = path.join(path.dirname(fileURLToPath(import.meta.url)), 'peak-rss-hook.mjs')
/** GNU time, when installed: it prints a command's peak RSS (`%M`, KiB). */
export const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined

async function run (command, args, options) {
  const started = performance.now()
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  options.onStart?.(child)
  const code = await new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (c, signal) => { resolve(c ?? signal) })
  })
  return { code, ms: performance.now() - started, stdout, stderr }
}

/**
 * Runs `node <args…>` (e.g. `dist/bin/bac.mjs ipfs get …`) in a fresh process and resolves with
 * its peak RSS in bytes, wall time in ms, exit code and output. `options.onStart(child)` gets
 * the process (to stop a server); `options.stdout: 'ignore'` drops its output.
 */
export async function nodePeak (args, options = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'bac-peak-'))
  const file = path.join(dir, 'peak')
  try {
    const result = await run(process.execPath, ['--import', HOOK, ...args], { ...options, env: { ...(options.env ?? process.env), BAC_PEAK_RSS_FILE: file } })
    if (!existsSync(file)) throw new Error(`node ${args.join(' ')} exited (${result.code}) without reporting its peak: ${result.stderr}`)
    return { ...result, peak: Number(readFileSync(file, 'utf8')) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs any command under GNU time (see GNU_TIME); resolves as `nodePeak` does. */
export async function commandPeak (command, args, options = {}) {
  if (GNU_TIME === undefined) throw new Error('GNU time (/usr/bin/time) is not installed')
  const result = await run(GNU_TIME, ['-f', '%M', command, ...args], options)
  const lines = result.stderr.trim().split('\n')
  return { ...result, stderr: lines.slice(0, -1).join('\n'), peak: Number(lines.at(-1)) * 1024 }
}
