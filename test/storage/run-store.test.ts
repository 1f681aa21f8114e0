import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { openRunStore } from '../../src/storage/index.js'
import { FIXTURES } from '../helpers/paths.js'

const dir = mkdtempSync(path.join(tmpdir(), 'bac-runstore-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const fresh = (): string => path.join(dir, `runs-${n++}.db`)
const newRun = (id: string, extra: Record<string, unknown> = {}): Parameters<ReturnType<typeof openRunStore>['createRun']>[0] =>
  ({ id, pipeline: 'sales', pipelineFile: '/p/sales.yml', summary: 'sales', data: ['QmA'], trigger: { kind: 'manual' }, inputs: { x: 1 }, ...extra })

describe('run store (SQLite)', () => {
  it('records a run, its steps and executions, and reads them back', () => {
    let clock = 1000
    const store = openRunStore({ file: fresh(), now: () => clock++ })
    const created = store.createRun(newRun('r1', { trigger: { kind: 'watch', file: { path: '/drop/a.zip' } } }))
    assert.equal(created.status, 'queued')
    store.startRun('r1')
    store.setStep('r1', 'extract', { status: 'running', startedAt: 5, cacheKey: 'k1' })
    const exec = store.startExecution({ runId: 'r1', stepId: 'extract', attempt: 1, node: 'local', executor: 'process', startedAt: 5, logDir: '/logs/1' })
    store.finishExecution(exec, { exitCode: 0, outputsCid: 'QmOut' })
    store.setStep('r1', 'extract', { status: 'succeeded', outputsCid: 'QmOut', endedAt: 9 })
    store.finishRun('r1', 'succeeded', { resultCid: 'QmResult' })
    const r = store.getRun('r1')
    assert.equal(r?.status, 'succeeded')
    assert.equal(r?.resultCid, 'QmResult')
    assert.deepEqual(r?.trigger, { kind: 'watch', file: { path: '/drop/a.zip' } })
    assert.deepEqual(r?.data, ['QmA'])
    assert.ok((r?.endedAt ?? 0) > (r?.startedAt ?? 0))
    assert.deepEqual(store.steps('r1'), [{ runId: 'r1', stepId: 'extract', status: 'succeeded', cacheKey: 'k1', outputsCid: 'QmOut', startedAt: 5, endedAt: 9 }])
    const [e] = store.executions('r1', 'extract')
    assert.equal(e?.exitCode, 0)
    assert.equal(e?.logDir, '/logs/1')
    store.close()
  })

  it('lists newest first, pages, filters by status, and finds runs by unique prefix', () => {
    let clock = 0
    const store = openRunStore({ file: fresh(), now: () => clock++ })
    for (const id of ['aa11', 'aa22', 'bb33', 'cc44']) store.createRun(newRun(id))
    store.startRun('bb33')
    assert.deepEqual(store.listRuns().map((r) => r.id), ['cc44', 'bb33', 'aa22', 'aa11'])
    assert.deepEqual(store.listRuns({ limit: 2, before: 'bb33' }).map((r) => r.id), ['aa22', 'aa11'])
    assert.deepEqual(store.listRuns({ status: 'running' }).map((r) => r.id), ['bb33'])
    assert.equal(store.findRun('bb')?.id, 'bb33')
    assert.equal(store.findRun('zz'), undefined)
    assert.throws(() => store.findRun('aa'), (err: Error) => err.name === 'RunNotFoundError' && /more than one run/.test(err.message))
    store.close()
  })

  it('remembers step outputs by cache key across runs and reopenings', () => {
    const file = fresh()
    const store = openRunStore({ file })
    assert.equal(store.cached('key'), undefined)
    store.remember('key', 'QmCached', 'run-1')
    store.close()
    const again = openRunStore({ file })
    assert.deepEqual(again.cached('key'), { outputsCid: 'QmCached', runId: 'run-1' })
    again.close()
  })

  it('makes several changes as one: all of them, or none when one fails', () => {
    const store = openRunStore({ file: fresh() })
    assert.equal(store.atomically(() => { store.remember('a', 'QmA'); store.remember('b', 'QmB'); return 2 }), 2)
    assert.throws(() => store.atomically(() => { store.remember('c', 'QmC'); throw new Error('half way') }), /half way/)
    assert.equal(store.cached('a')?.outputsCid, 'QmA')
    assert.equal(store.cached('b')?.outputsCid, 'QmB')
    assert.equal(store.cached('c'), undefined)
    store.close()
  })

  it('marks a run interrupted when the process running it was killed -9, keeping what finished', async () => {
    const file = fresh()
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(FIXTURES, 'run-store', 'owner.ts'), file, 'killed'], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve() })
      child.on('exit', (code) => { reject(new Error(`owner exited early with ${String(code)}`)) })
    })
    const store = openRunStore({ file })
    store.createRun(newRun('mine'))
    store.startRun('mine')
    assert.deepEqual(store.recoverInterrupted(), [], 'a run whose owner lives is left alone')
    child.kill('SIGKILL')
    await new Promise((resolve) => child.on('exit', resolve))
    assert.deepEqual(store.recoverInterrupted(), ['killed'])
    const run = store.getRun('killed')
    assert.equal(run?.status, 'interrupted')
    assert.match(run?.reason ?? '', /bac run --resume/)
    assert.deepEqual(store.steps('killed').map((s) => [s.stepId, s.status]).sort(), [['busy', 'interrupted'], ['done', 'succeeded']])
    assert.equal(store.steps('killed').find((s) => s.stepId === 'done')?.outputsCid, 'QmDone')
    assert.match(store.executions('killed')[0]?.error ?? '', /interrupted/)
    assert.equal(store.getRun('mine')?.status, 'running')
    store.close()
  })

  it('refuses a store written by a newer bac, and a file that is not a database, clearly', () => {
    const newer = fresh()
    const db = new Database(newer)
    db.pragma('user_version = 99')
    db.close()
    assert.throws(() => openRunStore({ file: newer }), (err: Error) => err.name === 'RunStoreError' && /newer bac/.test(err.message))
    const garbage = fresh()
    writeFileSync(garbage, 'this is not sqlite'.repeat(100))
    assert.throws(() => openRunStore({ file: garbage }), (err: Error) => err.name === 'RunStoreError' && /cannot open the run store/.test(err.message))
  })

  it('keeps a ledger: an entry is taken once, found by its stamp, settled after its run ended', () => {
    const store = openRunStore({ file: fresh() })
    const taken = store.atomically(() => {
      const before = store.take({ pipeline: 'p', source: 'file:/drop/a', key: 'QmA', runId: 'r1', stamp: '1:2:3' })
      if (before === undefined) store.createRun(newRun('r1', { request: { inputs: {}, cwd: '/' } }))
      return before
    })
    assert.equal(taken, undefined)
    assert.equal(store.take({ pipeline: 'p', source: 'file:/drop/a', key: 'QmA', runId: 'r2', stamp: '9:9:9' }), 'r1', 'the same content again names the first run')
    assert.equal(store.takenByStamp('p', 'file:/drop/a', '9:9:9')?.runId, 'r1', 'and is known by how it looks now')
    assert.equal(store.getRun('r2'), undefined)
    assert.deepEqual(store.unsettled('p', 'file:'), [], 'nothing to settle while the run has not ended')
    assert.equal(store.claimRun('r1'), true)
    assert.equal(store.claimRun('r1'), false, 'a run is claimed once')
    store.finishRun('r1', 'succeeded', {})
    assert.deepEqual(store.unsettled('p', 'file:').map((e) => [e.key, e.status]), [['QmA', 'succeeded']])
    assert.deepEqual(store.unsettled('p', 'schedule'), [])
    store.settle('p', 'file:/drop/a', 'QmA')
    assert.deepEqual(store.unsettled('p', 'file:'), [])
    assert.equal(store.lastTaken('p', 'file:/drop/a', 'QmA')?.settled, true)
  })

  it('lists the runs waiting to be started, oldest first; an interrupted run only when a trigger queued it', () => {
    let clock = 1
    const store = openRunStore({ file: fresh(), now: () => clock++ })
    store.createRun(newRun('q1', { request: { inputs: {}, cwd: '/' } }))
    store.createRun(newRun('q2', { request: { inputs: { a: { cid: 'QmA', name: 'a' } }, cwd: '/' } }))
    store.createRun(newRun('manual'))
    store.startRun('manual')
    assert.deepEqual(store.waitingRuns('/p/sales.yml', 10).map((r) => r.id), ['q1', 'q2'])
    assert.deepEqual(store.getRun('q2')?.request?.inputs, { a: { cid: 'QmA', name: 'a' } })
    assert.deepEqual(store.waitingRuns('/p/sales.yml', 1).map((r) => r.id), ['q1'])
    assert.equal(store.claimRun('q1'), true)
    assert.deepEqual(store.waitingRuns('/p/sales.yml', 10).map((r) => r.id), ['q2'])
    assert.equal(store.claimRun('manual'), false, 'a running run is not claimed')
    store.finishRun('q1', 'interrupted', { reason: 'killed' })
    store.finishRun('manual', 'interrupted', { reason: 'killed' })
    assert.deepEqual(store.waitingRuns('/p/sales.yml', 10, { interrupted: true }).map((r) => r.id), ['q1', 'q2'])
  })

  it('upgrades a store of schema 1 in place, keeping its runs', () => {
    const file = fresh()
    const db = new Database(file)
    db.exec(`CREATE TABLE runs (id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, pipeline_file TEXT NOT NULL, status TEXT NOT NULL, summary TEXT NOT NULL,
      data TEXT NOT NULL, trigger TEXT NOT NULL, inputs TEXT NOT NULL, created_at INTEGER NOT NULL, started_at INTEGER, ended_at INTEGER,
      result_cid TEXT, reason TEXT, owner_pid INTEGER, owner_start TEXT);
      CREATE TABLE steps (run_id TEXT NOT NULL REFERENCES runs (id), step_id TEXT NOT NULL, status TEXT NOT NULL, cache_key TEXT, outputs_cid TEXT,
        started_at INTEGER, ended_at INTEGER, reason TEXT, PRIMARY KEY (run_id, step_id));
      CREATE TABLE executions (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs (id), step_id TEXT NOT NULL, attempt INTEGER NOT NULL,
        item INTEGER, node TEXT NOT NULL, executor TEXT NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER, exit_code INTEGER, signal TEXT,
        outputs_cid TEXT, log_dir TEXT, error TEXT);
      CREATE TABLE cache (key TEXT PRIMARY KEY, outputs_cid TEXT NOT NULL, created_at INTEGER NOT NULL);
      INSERT INTO runs VALUES ('old', 'p', '/p.yml', 'succeeded', 'p', '[]', '{"kind":"manual"}', '{}', 1, 1, 2, 'QmR', NULL, NULL, NULL);
      INSERT INTO cache VALUES ('k', 'QmOld', 1);`)
    db.pragma('user_version = 1')
    db.close()
    const store = openRunStore({ file })
    assert.equal(store.getRun('old')?.resultCid, 'QmR')
    assert.equal(store.getRun('old')?.request, undefined)
    assert.equal(store.take({ pipeline: 'p', source: 'schedule', key: 't', runId: 'x' }), undefined)
    // an entry cached before records were kept has no run; a run of the old store can get a record
    assert.deepEqual(store.cached('k'), { outputsCid: 'QmOld' })
    store.setProvenance('old', 'QmRecord', '{}')
    assert.equal(store.getRun('old')?.provenanceCid, 'QmRecord')
    store.close()
    assert.equal(new Database(file).pragma('user_version', { simple: true }), 4)
  })
})
