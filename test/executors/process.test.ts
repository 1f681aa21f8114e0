import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { createProcessExecutor } from '../../src/executors/index.js'
import type { ExecutionAction, ExecutionResult, ExecutionSpec } from '../../src/interfaces/executor.js'
import { FIXTURES, ROOT } from '../helpers/paths.js'
import { executorCompliance, running } from './compliance.js'

executorCompliance('process', (init) => createProcessExecutor(init))

const SCRIPTS = path.join(FIXTURES, 'executors')

describe('process executor', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bac-process-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  let n = 0
  const spec = (action: ExecutionAction, extra: Partial<ExecutionSpec> = {}): ExecutionSpec => {
    const base = path.join(dir, `case-${n++}`)
    return { action, env: {}, inputs: {}, outputsDir: path.join(base, 'outputs'), workDir: path.join(base, 'work'), logsDir: path.join(base, 'logs'), ...extra }
  }
  const log = (s: ExecutionSpec, stream: 'stdout' | 'stderr'): string => existsSync(path.join(s.logsDir, `${stream}.log`)) ? readFileSync(path.join(s.logsDir, `${stream}.log`), 'utf8') : ''
  /** Kills (by pid) the sleeps of a test's children that a weaker containment let live. */
  const killLeft = (markers: readonly string[]): void => {
    for (const pid of markers.flatMap((m) => running(['sleep', m]))) { try { process.kill(pid, 'SIGKILL') } catch {} }
  }

  it('sends SIGTERM first and SIGKILL only after the grace period', async () => {
    const executor = createProcessExecutor({ killGraceMs: 300 })
    const r = await executor.execute(spec({ kind: 'command', command: 'sh', args: [path.join(SCRIPTS, 'ignore-term.sh')] }, { timeoutMs: 200 }))
    assert.equal(r.signal, 'SIGKILL')
    assert.ok(r.durationMs >= 450, `${r.durationMs} ms: the grace period was not waited for`)
  })

  it('runs each step in a PID namespace of its own: its /proc shows its own processes only, its pids start at random', async () => {
    const executor = createProcessExecutor()
    const seen: string[][] = []
    for (let i = 0; i < 2; i++) {
      const s = spec({ kind: 'shell', shell: 'sh', script: 'echo $$; ls /proc | grep -c "^[0-9]"; cat /proc/$$/comm' })
      assert.equal((await executor.execute(s)).exitCode, 0, log(s, 'stderr'))
      seen.push(log(s, 'stdout').trim().split('\n'))
    }
    for (const [, count, comm] of seen) {
      assert.ok(Number(count) < 10, `the step sees ${count} processes`)
      assert.equal(comm, 'sh', '/proc/$$ is the step itself')
    }
    if (process.getuid?.() === 0) assert.notEqual(seen[0]?.[0], seen[1]?.[0], 'two steps had the same $$')
  })

  it('reports a step that exits with 143 on its own as that exit code, not as a signal', async () => {
    const r = await createProcessExecutor().execute(spec({ kind: 'shell', shell: 'sh', script: 'exit 143' }))
    assert.equal(r.exitCode, 143)
    assert.equal(r.signal, null)
  })

  it('falls back to process groups where no PID namespace can be made: warns once, still ends at a timeout however the pipes are held', async () => {
    const executor = createProcessExecutor({ killGraceMs: 300, unshare: path.join(dir, 'no-unshare-here') })
    const markers = [`20.${process.pid}91`, `20.${process.pid}92`]
    try {
      const s = spec({ kind: 'command', command: 'sh', args: [path.join(SCRIPTS, 'setsid-children.sh'), ...markers, 'hang'] }, { timeoutMs: 300 })
      const r = await executor.execute(s)
      assert.equal(r.timedOut, true)
      assert.ok(r.durationMs < 300 + 300 + 1000 + 3000, `${r.durationMs} ms`)
      const warning = new RegExp('^bac: warning: steps run as plain process groups here \\(unshare cannot make a PID namespace here: .*no-unshare-here.*\\): ' +
        'a process a step starts in a new session \\(setsid\\) can outlive the step and bac\n')
      assert.match(log(s, 'stderr'), warning)
      const next = spec({ kind: 'shell', shell: 'sh', script: 'echo again >&2' })
      assert.equal((await executor.execute(next)).exitCode, 0)
      assert.equal(log(next, 'stderr'), 'again\n', 'the warning comes once')
    } finally {
      killLeft(markers)
    }
  })

  it('contains a step in a user and PID namespace when bac does not run as root', {
    skip: process.getuid?.() !== 0
      ? 'needs root to start a test as another user'
      : !readableByNobody() && 'the checkout lies where nobody (65534) cannot read it (a folder of mode 0700 above it)'
  }, async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'bac-process-user-'))
    chownSync(base, 65534, 65534)
    const markers = [`20.${process.pid}81`, `20.${process.pid}82`]
    try {
      const out = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, ['--import', 'tsx', path.join(SCRIPTS, 'attempt-as.ts'), base, path.join(SCRIPTS, 'setsid-children.sh'), ...markers], {
          cwd: ROOT,
          uid: 65534,
          gid: 65534,
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: base }
        }, (error, stdout, stderr) => {
          if (error !== null) reject(new Error(`${error.message}\n${stderr}`)); else resolve(stdout)
        })
      })
      const r = JSON.parse(out) as ExecutionResult
      assert.equal(r.exitCode, 0)
      assert.ok(r.durationMs < 5000, `${r.durationMs} ms: the step waited for a child that holds its output`)
      assert.equal(readFileSync(path.join(base, 'logs', 'stdout.log'), 'utf8'), 'started\n')
      assert.equal(existsSync(path.join(base, 'logs', 'stderr.log')), false, 'no warning: the namespaces were made')
      assert.deepEqual(markers.flatMap((m) => running(['sleep', m])), [], 'a child in a new session outlived the step')
    } finally {
      killLeft(markers)
      rmSync(base, { recursive: true, force: true })
    }
  })
})

/** Whether user 65534 can read the project's files (the test runs bac's code as that user). */
function readableByNobody (): boolean {
  return spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', path.join(ROOT, 'node_modules', 'tsx', 'package.json')]).status === 0
}
