import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { ExecutionAction, ExecutionSpec, Executor, LogChunk } from '../../src/interfaces/executor.js'
import { FIXTURES } from '../helpers/paths.js'
import { processes } from '../helpers/processes.js'
import { until } from '../helpers/until.js'

/** A step's log; a stream it never wrote to has no file, which reads as empty. */
function readLog (dir: string, stream: 'stdout' | 'stderr'): string {
  const file = path.join(dir, `${stream}.log`)
  return existsSync(file) ? readFileSync(file, 'utf8') : ''
}

const SCRIPTS = path.join(FIXTURES, 'executors')

/** The pids of running processes whose command line is exactly `args`. */
export function running (args: readonly string[]): number[] {
  const wanted = `${args.join('\0')}\0`
  return processes((cmdline) => cmdline === wanted)
}

/** Waits until no process runs `sleep <marker>` for any marker; kills (by pid) and fails on what is left. */
async function noneLeft (markers: readonly string[], what: string): Promise<void> {
  const left = (): number[] => markers.flatMap((m) => running(['sleep', m]))
  try {
    await until(() => left().length === 0, what, 3000)
  } catch (err) {
    for (const pid of left()) { try { process.kill(pid, 'SIGKILL') } catch {} }
    throw err
  }
}

/**
 * The executor compliance suite: every executor (process, sandbox, vm) must pass it. `paths`
 * says how the executor exposes host folders to the step (identity for a raw process).
 */
export function executorCompliance (name: string, create: (init: { killGraceMs: number }) => Executor): void {
  describe(`executor compliance: ${name}`, () => {
    const root = mkdtempSync(path.join(tmpdir(), `bac-exec-${name}-`))
    after(() => rmSync(root, { recursive: true, force: true }))
    // the grace a step gets between SIGTERM and SIGKILL, from this machine's measured speed: a
    // few trivial attempts' time (a VM's agent under a loaded TCG needs more than a process does)
    let grace = 300
    let executor = create({ killGraceMs: grace })
    before(async () => {
      const started = Date.now()
      await executor.execute(spec(sh('true')))
      grace = Math.max(300, 4 * (Date.now() - started))
      executor = create({ killGraceMs: grace })
    })
    let n = 0

    /** A fresh attempt folder with the fixture scripts as an input. */
    function spec (action: ExecutionAction, extra: Partial<ExecutionSpec> = {}): ExecutionSpec {
      const dir = path.join(root, `attempt-${n++}`)
      mkdirSync(dir)
      const data = path.join(dir, 'data')
      mkdirSync(data)
      writeFileSync(path.join(data, 'in.txt'), 'input content\n')
      return {
        action,
        env: {},
        inputs: { scripts: SCRIPTS, data },
        outputsDir: path.join(dir, 'outputs'),
        workDir: path.join(dir, 'work'),
        logsDir: path.join(dir, 'logs'),
        ...extra
      }
    }
    const layoutOf = (s: ExecutionSpec): ReturnType<Executor['layout']> => executor.layout(s)
    const sh = (script: string): ExecutionAction => ({ kind: 'shell', shell: 'sh', script })
    /** Two unique sleep durations (20 s and a bit) a test's children sleep, to find them by. */
    const markers = (): [string, string] => [`20.${process.pid}${n}1`, `20.${process.pid}${n}2`]
    /** The fixture script that starts two children in new sessions (setsid), as the step sees it. */
    const setsidChildren = (s: ExecutionSpec, ...args: string[]): ExecutionAction => ({
      kind: 'command',
      command: 'sh',
      args: [path.join(layoutOf(s).inputs.scripts ?? '', 'setsid-children.sh'), ...args]
    })

    it('runs a shell script and reports success', async () => {
      const s = spec(sh('echo hello'))
      const r = await executor.execute(s)
      assert.equal(r.exitCode, 0)
      assert.equal(r.timedOut || r.cancelled, false)
      assert.equal(readLog(s.logsDir, 'stdout'), 'hello\n')
    })

    it('reports a non-zero exit and keeps both streams', async () => {
      const s = spec(sh(''))
      const script = path.join(layoutOf(s).inputs.scripts ?? '', 'exit-3.sh')
      const chunks: LogChunk[] = []
      const r = await executor.execute({ ...s, action: { kind: 'command', command: 'sh', args: [script] } }, { onLog: (c) => chunks.push(c) })
      assert.equal(r.exitCode, 3)
      assert.equal(readLog(s.logsDir, 'stdout'), 'to stdout\n')
      assert.equal(readLog(s.logsDir, 'stderr'), 'to stderr\n')
      assert.deepEqual(chunks.filter((c) => c.stream === 'stderr').map((c) => c.text).join(''), 'to stderr\n')
    })

    it('passes command arguments verbatim, with no shell', async () => {
      const s = spec({ kind: 'command', command: 'printf', args: ['%s|', '$(touch pwned)', 'a b', "it's", '`id`'] })
      const r = await executor.execute(s)
      assert.equal(r.exitCode, 0)
      assert.equal(readLog(s.logsDir, 'stdout'), "$(touch pwned)|a b|it's|`id`|")
      assert.equal(existsSync(path.join(s.workDir, 'pwned')), false)
    })

    it('gives a clean environment: the declared env and the basics, nothing of bac\'s', async () => {
      process.env.BAC_TEST_SECRET = 'must-not-leak'
      try {
        const s = spec({ kind: 'command', command: 'env', args: [] }, { env: { GREETING: 'hi there' } })
        assert.equal((await executor.execute(s)).exitCode, 0)
        const vars = Object.fromEntries(readLog(s.logsDir, 'stdout').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
        assert.equal(vars.GREETING, 'hi there')
        assert.equal(vars.BAC_TEST_SECRET, undefined)
        assert.ok(vars.PATH !== undefined && vars.HOME !== undefined)
        assert.deepEqual(Object.keys(vars).filter((k) => !['GREETING', 'PATH', 'HOME', 'TMPDIR', 'LANG', 'PWD', 'SHLVL', '_'].includes(k)), [])
      } finally {
        delete process.env.BAC_TEST_SECRET
      }
    })

    it('reads inputs and writes outputs at the paths its layout gives', async () => {
      const s = spec(sh(''))
      const l = layoutOf(s)
      const r = await executor.execute({
        ...s,
        action: { kind: 'command', command: 'sh', args: [path.join(l.inputs.scripts ?? '', 'write-outputs.sh'), l.outputs, '1000', path.join(l.inputs.data ?? '', 'in.txt')] }
      })
      assert.equal(r.exitCode, 0, readLog(s.logsDir, 'stderr'))
      assert.equal(readFileSync(path.join(s.outputsDir, 'copy.txt'), 'utf8'), 'input content\n')
      assert.equal(r.outputBytes, 1000 + 'input content\n'.length)
    })

    it('stops an attempt at its timeout', async () => {
      const s = spec(sh(''), { timeoutMs: 300 })
      const started = Date.now()
      const r = await executor.execute({ ...s, action: { kind: 'command', command: 'sh', args: [path.join(layoutOf(s).inputs.scripts ?? '', 'hang.sh')] } })
      assert.equal(r.timedOut, true)
      assert.equal(r.exitCode, null)
      assert.equal(r.signal, 'SIGTERM')
      assert.ok(Date.now() - started < 5000)
    })

    it('stops what ignores SIGTERM, and leaves nothing running', async () => {
      const s = spec(sh(''), { timeoutMs: 200 })
      const r = await executor.execute({ ...s, action: { kind: 'command', command: 'sh', args: [path.join(layoutOf(s).inputs.scripts ?? '', 'ignore-term.sh')] } })
      assert.equal(r.timedOut, true)
      assert.equal(r.exitCode, null)
      assert.ok(r.durationMs < 200 + grace + 3000, `${r.durationMs} ms`)
    })

    it('cancels on abort, leaving nothing running, and never starts when already aborted', async () => {
      const s = spec(sh(''))
      const held = markers()
      const controller = new AbortController()
      const r = await executor.execute({ ...s, action: setsidChildren(s, ...held, 'hang') }, { signal: controller.signal, onLog: () => { controller.abort() } })
      assert.equal(r.cancelled, true)
      assert.notEqual(r.exitCode, 0)
      assert.ok(r.durationMs < grace + 3000, `${r.durationMs} ms`)
      await noneLeft(held, 'the children in new sessions to end with the cancelled step')
      const pre = await executor.execute(spec(sh('touch ran')), { signal: AbortSignal.abort() })
      assert.equal(pre.cancelled, true)
      assert.equal(pre.exitCode, null)
    })

    it('leaves nothing running: a background child dies when the step ends', async () => {
      const s = spec(sh(''))
      const marker = `600.${process.pid}${n}`
      const r = await executor.execute({ ...s, action: { kind: 'command', command: 'sh', args: [path.join(layoutOf(s).inputs.scripts ?? '', 'leave-child.sh'), marker] } })
      assert.equal(r.exitCode, 0)
      assert.ok(r.durationMs < 5000, 'the step waited for its background child')
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.deepEqual(running(['sleep', marker]), [], 'the background child still runs')
    })

    it('leaves nothing running: children that called setsid die when the step ends, and it does not wait for them', async () => {
      const s = spec(sh(''))
      const held = markers()
      const r = await executor.execute({ ...s, action: setsidChildren(s, ...held) })
      assert.equal(r.exitCode, 0)
      assert.equal(readLog(s.logsDir, 'stdout'), 'started\n')
      assert.ok(r.durationMs < 5000, `${r.durationMs} ms: the step waited for a child that holds its output`)
      await noneLeft(held, 'the children in new sessions to end with the step')
    })

    it('ends at its timeout even when a child in a new session holds its output, and leaves nothing running', async () => {
      const s = spec(sh(''), { timeoutMs: 300 })
      const held = markers()
      const r = await executor.execute({ ...s, action: setsidChildren(s, ...held, 'hang') })
      assert.equal(r.timedOut, true)
      assert.ok(r.durationMs < 300 + grace + 3000, `${r.durationMs} ms`)
      await noneLeft(held, 'the children in new sessions to end with the timed-out step')
    })

    it('caps log files, counting everything', async () => {
      const s = spec(sh(''), { maxLogBytes: 100_000 })
      const r = await executor.execute({ ...s, action: { kind: 'command', command: 'sh', args: [path.join(layoutOf(s).inputs.scripts ?? '', 'loud.sh'), '3000000'] } })
      assert.equal(r.exitCode, 0)
      assert.equal(r.stdoutBytes, 3_000_000)
      assert.equal(r.logTruncated, true)
      const kept = readLog(s.logsDir, 'stdout')
      assert.ok(kept.startsWith('x'.repeat(100_000)) && kept.includes('log cut at 100000 bytes'))
    })

    it('fails an attempt whose outputs exceed the limit', async () => {
      const s = spec(sh(''), { maxOutputBytes: 50_000 })
      const l = layoutOf(s)
      const r = await executor.execute({
        ...s,
        action: { kind: 'command', command: 'sh', args: [path.join(l.inputs.scripts ?? '', 'write-outputs.sh'), l.outputs, '200000', path.join(l.inputs.data ?? '', 'in.txt')] }
      })
      assert.equal(r.exitCode, 0)
      assert.match(r.error ?? '', /outputs hold \d+ bytes, more than the limit of 50000/)
    })

    it('reports a program that does not exist, clearly', async () => {
      const r = await executor.execute(spec({ kind: 'command', command: 'no-such-program-bac', args: [] }))
      assert.equal(r.exitCode, null)
      assert.match(r.error ?? '', /cannot start 'no-such-program-bac': no such program/)
    })
  })
}
