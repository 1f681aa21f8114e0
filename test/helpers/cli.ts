import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { BAC_BIN, ROOT } from './paths.js'

export interface CliResult { code: number | null, stdout: string, stderr: string }

/** Runs the built `bac` binary in a real process. */
/** The test process's environment without $BAC_NODE: a tester's own devstack must not catch the CLI's calls. */
function inherited (): NodeJS.ProcessEnv {
  const { BAC_NODE: _, ...rest } = process.env
  return rest
}

export function bac (args: readonly string[], options: { cwd?: string, env?: Record<string, string>, nodeArgs?: readonly string[] } = {}): CliResult {
  const result = spawnSync(process.execPath, [...(options.nodeArgs ?? []), BAC_BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    env: { ...inherited(), NO_COLOR: '1', ...options.env },
    timeout: 30_000
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** Starts the built `bac` in the background and resolves once its stderr matches `text`. */
export async function startBac (args: readonly string[], text: RegExp, options: { cwd: string, env?: Record<string, string> }): Promise<{ child: ChildProcess, stderr: () => string }> {
  const child = spawn(process.execPath, [BAC_BIN, ...args], { cwd: options.cwd, env: { ...inherited(), ...options.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); if (text.test(stderr)) resolve() })
    child.on('exit', () => { reject(new Error(`bac ended before ${String(text)}:\n${stderr}`)) })
  })
  return { child, stderr: () => stderr }
}

/** Runs the built `bac` in a real process without blocking this one (for tests that serve its peer in-process). */
export async function bacAsync (args: readonly string[], options: { cwd?: string, env?: Record<string, string>, timeoutMs?: number } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [BAC_BIN, ...args], { cwd: options.cwd ?? ROOT, env: { ...inherited(), NO_COLOR: '1', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/**
 * A data dir with one run in it: `text` written as `<dir>/<name>.yml` and run there by `bac run
 * --json` on the data dir; the run's id. Fails the test when the run does not succeed.
 */
export function oneRun (dir: string, dataDir: string, name: string, text: string): string {
  mkdirSync(dataDir, { recursive: true })
  const file = path.join(dir, `${name}.yml`)
  writeFileSync(file, text)
  const r = bac(['run', file, '--json'], { cwd: dir, env: { BAC_HOME: dataDir } })
  if (r.code !== 0) throw new Error(`bac run ${file} failed: ${r.stderr}`)
  const events = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { type: string, runId: string })
  return events.find((e) => e.type === 'run:end')?.runId ?? ''
}
