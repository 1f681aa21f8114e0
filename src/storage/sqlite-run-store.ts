import { mkdirSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { RunNotFoundError, RunStoreError } from '../interfaces/errors.js'
import type { CacheSource, Envelope } from '../interfaces/provenance.js'
import type { ExecutionRecord, LedgerEntry, RunListOptions, RunRecord, QueuedStart, RunGraph, RunStatus, RunStore, StepRecord, StepStatus } from '../interfaces/run-store.js'
import { processStart, stillRunning } from './process-identity.js'
import { MIGRATIONS, SCHEMA, SCHEMA_VERSION } from './run-store-schema.js'

export interface SqliteRunStoreInit {
  /** The SQLite file, created on first use. */
  file: string
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number
}

/** A run's columns but its provenance record, which is read alone (it may be large). */
const RUN_COLUMNS = 'id, pipeline, pipeline_file, status, summary, data, trigger, inputs, created_at, started_at, ended_at, result_cid, reason, request, provenance_cid, graph'

/** How many runs `listRuns` returns when no limit is given. */
export const DEFAULT_LIST_LIMIT = 50

type Row = Record<string, string | number | null>

const optional = <K extends string, V>(key: K, value: V | null | undefined): { [P in K]?: V } =>
  (value === null || value === undefined ? {} : { [key]: value }) as { [P in K]?: V }

function toRun (row: Row): RunRecord {
  return {
    id: String(row.id),
    pipeline: String(row.pipeline),
    pipelineFile: String(row.pipeline_file),
    status: row.status as RunStatus,
    summary: String(row.summary),
    data: JSON.parse(String(row.data)) as string[],
    trigger: JSON.parse(String(row.trigger)) as Record<string, unknown>,
    inputs: JSON.parse(String(row.inputs)) as Record<string, unknown>,
    createdAt: Number(row.created_at),
    ...optional('startedAt', row.started_at as number | null),
    ...optional('endedAt', row.ended_at as number | null),
    ...optional('resultCid', row.result_cid as string | null),
    ...optional('reason', row.reason as string | null),
    ...optional('request', row.request === null || row.request === undefined ? null : JSON.parse(String(row.request)) as QueuedStart),
    ...optional('provenanceCid', row.provenance_cid as string | null),
    ...optional('graph', row.graph === null || row.graph === undefined ? null : JSON.parse(String(row.graph)) as RunGraph)
  }
}

function toEntry (row: Row): LedgerEntry {
  return {
    pipeline: String(row.pipeline),
    source: String(row.source),
    key: String(row.key),
    runId: String(row.run_id),
    settled: row.settled === 1,
    ...optional('stamp', row.stamp as string | null)
  }
}

function toStep (row: Row): StepRecord {
  return {
    runId: String(row.run_id),
    stepId: String(row.step_id),
    status: row.status as StepStatus,
    ...optional('cacheKey', row.cache_key as string | null),
    ...optional('outputsCid', row.outputs_cid as string | null),
    ...optional('startedAt', row.started_at as number | null),
    ...optional('endedAt', row.ended_at as number | null),
    ...optional('reason', row.reason as string | null),
    ...optional('cachedFrom', typeof row.cached_from === 'string' ? JSON.parse(row.cached_from) as Record<string, CacheSource> : null)
  }
}

function toExecution (row: Row): ExecutionRecord {
  return {
    id: Number(row.id),
    runId: String(row.run_id),
    stepId: String(row.step_id),
    attempt: Number(row.attempt),
    node: String(row.node),
    executor: String(row.executor),
    startedAt: Number(row.started_at),
    ...optional('item', row.item as number | null),
    ...optional('endedAt', row.ended_at as number | null),
    ...optional('exitCode', row.exit_code as number | null),
    ...optional('signal', row.signal as string | null),
    ...optional('outputsCid', row.outputs_cid as string | null),
    ...optional('logDir', row.log_dir as string | null),
    ...optional('error', row.error as string | null),
    ...optional('peer', row.peer as string | null),
    ...optional('command', typeof row.command === 'string' ? JSON.parse(row.command) as unknown : null),
    ...optional('machine', row.machine as string | null),
    ...optional('cacheKey', row.cache_key as string | null),
    ...optional('attestation', typeof row.attestation === 'string' ? JSON.parse(row.attestation) as Envelope : null)
  }
}

function open (file: string): Database.Database {
  mkdirSync(path.dirname(file), { recursive: true })
  let db: Database.Database
  try {
    db = new Database(file, { timeout: 5000 })
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    const version = Number(db.pragma('user_version', { simple: true }))
    if (version > SCHEMA_VERSION) throw new RunStoreError(`${file} was written by a newer bac (schema ${version}; this bac reads ${SCHEMA_VERSION}): upgrade bac`)
    if (version === 0) db.transaction(() => { db.exec(SCHEMA); db.pragma(`user_version = ${SCHEMA_VERSION}`) }).immediate()
    else if (version < SCHEMA_VERSION) migrate(db, version)
  } catch (err) {
    if (err instanceof RunStoreError) throw err
    throw new RunStoreError(`cannot open the run store ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  return db
}

/** Brings a store written by an older bac up to this version, one version at a time, atomically. */
function migrate (db: Database.Database, from: number): void {
  db.transaction(() => {
    // another process may have migrated it since the version was read
    for (let v = Number(db.pragma('user_version', { simple: true })); v < SCHEMA_VERSION; v++) {
      const step = MIGRATIONS[v]
      if (step === undefined) throw new RunStoreError(`cannot upgrade the run store from schema ${from}: no migration from ${v}`)
      db.exec(step)
      db.pragma(`user_version = ${v + 1}`)
    }
  }).immediate()
}

/**
 * The run store on SQLite: WAL journal, one transaction per change, so a kill -9 at any moment
 * leaves every committed change in place and nothing half written (`synchronous = NORMAL`: a
 * power loss may drop the last commits, never corrupt the file).
 */
export function openRunStore (init: SqliteRunStoreInit): RunStore {
  const db = open(init.file)
  const now = init.now ?? Date.now
  // a statement is prepared once and kept: preparing costs more than running a small one
  const statements = new Map<string, Database.Statement>()
  const statement = (sql: string): Database.Statement => {
    let prepared = statements.get(sql)
    if (prepared === undefined) {
      prepared = db.prepare(sql)
      statements.set(sql, prepared)
    }
    return prepared
  }
  const run = (sql: string, ...params: unknown[]): Database.RunResult => statement(sql).run(...params)
  const all = (sql: string, ...params: unknown[]): Row[] => statement(sql).all(...params) as Row[]
  const one = (sql: string, ...params: unknown[]): Row | undefined => statement(sql).get(...params) as Row | undefined

  const store: RunStore = {
    close: () => { db.close() },
    atomically: (fn, options) => {
      if (options?.durable !== true) return db.transaction(fn).immediate()
      // FULL syncs the WAL at commit; the setting is per connection, so it is put back at once
      db.pragma('synchronous = FULL')
      try {
        return db.transaction(fn).immediate()
      } finally {
        db.pragma('synchronous = NORMAL')
      }
    },
    createRun (r) {
      const created = now()
      run('INSERT INTO runs (id, pipeline, pipeline_file, status, summary, data, trigger, inputs, created_at, request, graph) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        r.id, r.pipeline, r.pipelineFile, 'queued', r.summary, JSON.stringify(r.data), JSON.stringify(r.trigger), JSON.stringify(r.inputs), created,
        r.request === undefined ? null : JSON.stringify(r.request), r.graph === undefined ? null : JSON.stringify(r.graph))
      return { ...r, status: 'queued', createdAt: created }
    },
    startRun (id, resolved) {
      const changed = resolved === undefined
        ? run("UPDATE runs SET status = 'running', started_at = coalesce(started_at, ?), ended_at = NULL, reason = NULL, owner_pid = ?, owner_start = ? WHERE id = ?",
          now(), process.pid, processStart(process.pid) ?? null, id)
        : run("UPDATE runs SET status = 'running', started_at = coalesce(started_at, ?), ended_at = NULL, reason = NULL, owner_pid = ?, owner_start = ?, inputs = ?, data = ? WHERE id = ?",
          now(), process.pid, processStart(process.pid) ?? null, JSON.stringify(resolved.inputs), JSON.stringify(resolved.data), id)
      if (changed.changes === 0) throw new RunNotFoundError(id)
    },
    cancelWaiting (id, reason) {
      return run("UPDATE runs SET status = 'cancelled', ended_at = ?, reason = ? WHERE id = ? AND status IN ('queued', 'interrupted')", now(), reason, id).changes === 1
    },
    claimRun (id) {
      const claim = "UPDATE runs SET status = 'running', started_at = coalesce(started_at, ?), ended_at = NULL, reason = NULL, owner_pid = ?, owner_start = ? " +
        "WHERE id = ? AND status IN ('queued', 'interrupted')"
      return run(claim, now(), process.pid, processStart(process.pid) ?? null, id).changes === 1
    },
    waitingRuns (pipelineFile, limit, options = {}) {
      const statuses = options.interrupted === true ? "('queued', 'interrupted')" : "('queued')"
      // an interrupted run is taken up again only when a trigger started it, never one started by hand
      return all(`SELECT ${RUN_COLUMNS} FROM runs WHERE pipeline_file = ? AND status IN ${statuses} AND request IS NOT NULL ORDER BY created_at, rowid LIMIT ?`, pipelineFile, limit).map(toRun)
    },
    take (e) {
      const inserted = run('INSERT INTO ledger (pipeline, source, key, run_id, stamp, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
        e.pipeline, e.source, e.key, e.runId, e.stamp ?? null, now())
      if (inserted.changes === 1) return undefined
      const before = one('SELECT run_id FROM ledger WHERE pipeline = ? AND source = ? AND key = ?', e.pipeline, e.source, e.key)
      // the same content again: remember how it looks now, so it is not read again
      if (e.stamp !== undefined) run('UPDATE ledger SET stamp = ? WHERE pipeline = ? AND source = ? AND key = ?', e.stamp, e.pipeline, e.source, e.key)
      return String(before?.run_id)
    },
    takenByStamp (pipeline, source, stamp) {
      const row = one('SELECT * FROM ledger WHERE pipeline = ? AND source = ? AND stamp = ? LIMIT 1', pipeline, source, stamp)
      return row === undefined ? undefined : toEntry(row)
    },
    lastTaken (pipeline, source, key) {
      const row = key === undefined
        ? one('SELECT * FROM ledger WHERE pipeline = ? AND source = ? ORDER BY created_at DESC, rowid DESC LIMIT 1', pipeline, source)
        : one('SELECT * FROM ledger WHERE pipeline = ? AND source = ? AND key = ?', pipeline, source, key)
      return row === undefined ? undefined : toEntry(row)
    },
    unsettled: (pipeline, prefix) => all(`SELECT ledger.*, runs.status FROM ledger JOIN runs ON runs.id = ledger.run_id
      WHERE ledger.pipeline = ? AND ledger.settled = 0 AND substr(ledger.source, 1, ?) = ? AND runs.status IN ('succeeded', 'failed', 'cancelled')`, pipeline, prefix.length, prefix)
      .map((row) => ({ ...toEntry(row), status: row.status as RunStatus })),
    settle (pipeline, source, key) {
      run('UPDATE ledger SET settled = 1 WHERE pipeline = ? AND source = ? AND key = ?', pipeline, source, key)
    },
    finishRun (id, status, result) {
      run('UPDATE runs SET status = ?, ended_at = ?, result_cid = coalesce(?, result_cid), reason = ?, owner_pid = NULL, owner_start = NULL WHERE id = ?',
        status, now(), result.resultCid ?? null, result.reason ?? null, id)
    },
    setStep (runId, stepId, u) {
      run(`INSERT INTO steps (run_id, step_id, status, cache_key, outputs_cid, started_at, ended_at, reason, cached_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (run_id, step_id) DO UPDATE SET status = excluded.status, cache_key = coalesce(excluded.cache_key, cache_key),
           outputs_cid = coalesce(excluded.outputs_cid, outputs_cid), started_at = coalesce(excluded.started_at, started_at),
           ended_at = excluded.ended_at, reason = excluded.reason, cached_from = coalesce(excluded.cached_from, cached_from)`,
      runId, stepId, u.status, u.cacheKey ?? null, u.outputsCid ?? null, u.startedAt ?? null, u.endedAt ?? null, u.reason ?? null,
      u.cachedFrom === undefined ? null : JSON.stringify(u.cachedFrom))
    },
    startExecution (e) {
      return Number(run('INSERT INTO executions (run_id, step_id, attempt, item, node, executor, started_at, log_dir, peer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        e.runId, e.stepId, e.attempt, e.item ?? null, e.node, e.executor, e.startedAt, e.logDir ?? null, e.peer ?? null).lastInsertRowid)
    },
    finishExecution (id, r) {
      run(`UPDATE executions SET ended_at = ?, exit_code = ?, signal = ?, outputs_cid = ?, error = ?,
           command = coalesce(?, command), machine = coalesce(?, machine), cache_key = coalesce(?, cache_key), attestation = coalesce(?, attestation) WHERE id = ?`,
      now(), r.exitCode ?? null, r.signal ?? null, r.outputsCid ?? null, r.error ?? null,
      r.command === undefined ? null : JSON.stringify(r.command), r.machine ?? null, r.cacheKey ?? null,
      r.attestation === undefined ? null : JSON.stringify(r.attestation), id)
    },
    cached (key) {
      const row = one('SELECT outputs_cid, run_id, node, attestation FROM cache WHERE key = ?', key)
      return row === undefined
        ? undefined
        : {
          outputsCid: String(row.outputs_cid),
          ...optional('runId', row.run_id as string | null),
          ...optional('node', row.node as string | null),
          ...optional('attestation', typeof row.attestation === 'string' ? JSON.parse(row.attestation) as Envelope : null)
        }
    },
    remember (key, cid, runId, origin) {
      run(`INSERT INTO cache (key, outputs_cid, created_at, run_id, node, attestation) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET outputs_cid = excluded.outputs_cid, run_id = excluded.run_id, node = excluded.node, attestation = excluded.attestation`,
      key, cid, now(), runId ?? null, origin?.node ?? null, origin === undefined ? null : JSON.stringify(origin.attestation))
    },
    setProvenance (runId, cid, envelope) {
      run('UPDATE runs SET provenance_cid = ?, provenance = ? WHERE id = ?', cid, envelope, runId)
    },
    provenance: (runId) => (one('SELECT provenance FROM runs WHERE id = ?', runId)?.provenance as string | null | undefined) ?? undefined,
    getRun (id) {
      const row = one(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`, id)
      return row === undefined ? undefined : toRun(row)
    },
    findRun (prefix) {
      const rows = all(`SELECT ${RUN_COLUMNS} FROM runs WHERE id >= ? AND id < ? || char(1114111) LIMIT 2`, prefix, prefix)
      if (rows.length > 1 && rows.every((r) => r.id !== prefix)) throw new RunNotFoundError(prefix, 'more than one run starts with this; give more of the id')
      const exact = rows.find((r) => r.id === prefix) ?? rows[0]
      return exact === undefined ? undefined : toRun(exact)
    },
    steps: (runId) => all('SELECT * FROM steps WHERE run_id = ? ORDER BY coalesce(started_at, 9e18), step_id', runId).map(toStep),
    executions: (runId, stepId) => (stepId === undefined
      ? all('SELECT * FROM executions WHERE run_id = ? ORDER BY id', runId)
      : all('SELECT * FROM executions WHERE run_id = ? AND step_id = ? ORDER BY id', runId, stepId)).map(toExecution),
    listRuns (options: RunListOptions = {}) {
      const where: string[] = []
      const params: unknown[] = []
      if (options.status !== undefined) { where.push('status = ?'); params.push(options.status) }
      if (options.cid !== undefined) {
        where.push('(result_cid = ? OR id IN (SELECT run_id FROM steps WHERE outputs_cid = ?) OR id IN (SELECT run_id FROM executions WHERE outputs_cid = ?))')
        params.push(options.cid, options.cid, options.cid)
      }
      if (options.before !== undefined) {
        where.push('(created_at, rowid) < (SELECT created_at, rowid FROM runs WHERE id = ?)')
        params.push(options.before)
      }
      const sql = `SELECT ${RUN_COLUMNS} FROM runs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, rowid DESC LIMIT ?`
      return all(sql, ...params, options.limit ?? DEFAULT_LIST_LIMIT).map(toRun)
    },
    recoverInterrupted () {
      const orphans = all("SELECT id, owner_pid, owner_start FROM runs WHERE status = 'running'")
        .filter((r) => r.owner_pid === null || !stillRunning(Number(r.owner_pid), r.owner_start as string | null))
        .map((r) => String(r.id))
      const reason = 'interrupted: the bac process running it stopped (killed or crashed); continue with bac run --resume'
      db.transaction(() => {
        for (const id of orphans) {
          run("UPDATE runs SET status = 'interrupted', ended_at = ?, reason = ?, owner_pid = NULL, owner_start = NULL WHERE id = ?", now(), reason, id)
          run("UPDATE steps SET status = 'interrupted', ended_at = ?, reason = ? WHERE run_id = ? AND status = 'running'", now(), reason, id)
          run('UPDATE executions SET ended_at = ?, error = ? WHERE run_id = ? AND ended_at IS NULL', now(), reason, id)
        }
      }).immediate()
      return orphans
    }
  }
  return store
}
