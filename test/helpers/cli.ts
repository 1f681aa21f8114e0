import { spawnSync } from 'node:child_process'
import { BAC_BIN, ROOT } from './paths.js'

export interface CliResult { code: number | null, stdout: string, stderr: string }

/** Runs the built `bac` binary in a real process. */
export function bac (args: readonly string[], options: { cwd?: string, env?: Record<string, string>, nodeArgs?: readonly string[] } = {}): CliResult {
  const result = spawnSync(process.execPath, [...(options.nodeArgs ?? []), BAC_BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    timeout: 30_000
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}
