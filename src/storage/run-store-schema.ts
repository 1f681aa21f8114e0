/** The run store's schema version (SQLite `user_version`). */
export const SCHEMA_VERSION = 4

/** Version 2: what triggers took (the ledger) and how a queued run is to be started. */
const LEDGER = `
CREATE TABLE ledger (
  pipeline TEXT NOT NULL,
  source TEXT NOT NULL,
  key TEXT NOT NULL,
  run_id TEXT NOT NULL,
  stamp TEXT,
  settled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (pipeline, source, key)
);
CREATE INDEX ledger_stamp ON ledger (pipeline, source, stamp);
CREATE INDEX ledger_unsettled ON ledger (pipeline, settled);
CREATE INDEX runs_queue ON runs (pipeline_file, status, created_at);
`

/**
 * Version 3: provenance. A run's signed record (and its CID); per attempt the peer that ran it,
 * the command as rendered, the image and kernel digests, the memo key and the peer's signed
 * attestation; per step where cached outputs came from; per cache entry the run and node that made
 * it (with that node's attestation when it was another).
 */
const PROVENANCE = `
ALTER TABLE runs ADD COLUMN provenance_cid TEXT;
ALTER TABLE runs ADD COLUMN provenance TEXT;
CREATE INDEX runs_provenance ON runs (provenance_cid);
ALTER TABLE steps ADD COLUMN cached_from TEXT;
ALTER TABLE executions ADD COLUMN peer TEXT;
ALTER TABLE executions ADD COLUMN command TEXT;
ALTER TABLE executions ADD COLUMN machine TEXT;
ALTER TABLE executions ADD COLUMN cache_key TEXT;
ALTER TABLE executions ADD COLUMN attestation TEXT;
ALTER TABLE cache ADD COLUMN run_id TEXT;
ALTER TABLE cache ADD COLUMN node TEXT;
ALTER TABLE cache ADD COLUMN attestation TEXT;
`

/** Version 4: a run's DAG (its steps and their needs), as it was made. */
const GRAPH = `
ALTER TABLE runs ADD COLUMN graph TEXT;
`

export const SCHEMA = `
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  pipeline TEXT NOT NULL,
  pipeline_file TEXT NOT NULL,
  status TEXT NOT NULL,
  summary TEXT NOT NULL,
  data TEXT NOT NULL,
  trigger TEXT NOT NULL,
  inputs TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  ended_at INTEGER,
  result_cid TEXT,
  reason TEXT,
  owner_pid INTEGER,
  owner_start TEXT,
  request TEXT
);
CREATE INDEX runs_created ON runs (created_at DESC);
CREATE INDEX runs_status ON runs (status, created_at DESC);
CREATE TABLE steps (
  run_id TEXT NOT NULL REFERENCES runs (id),
  step_id TEXT NOT NULL,
  status TEXT NOT NULL,
  cache_key TEXT,
  outputs_cid TEXT,
  started_at INTEGER,
  ended_at INTEGER,
  reason TEXT,
  PRIMARY KEY (run_id, step_id)
);
CREATE TABLE executions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL REFERENCES runs (id),
  step_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  item INTEGER,
  node TEXT NOT NULL,
  executor TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  exit_code INTEGER,
  signal TEXT,
  outputs_cid TEXT,
  log_dir TEXT,
  error TEXT
);
CREATE INDEX executions_run ON executions (run_id, step_id);
CREATE TABLE cache (
  key TEXT PRIMARY KEY,
  outputs_cid TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
${LEDGER}${PROVENANCE}${GRAPH}`

/** What brings a store of an older version up to this one, by the version it is at. */
export const MIGRATIONS: Readonly<Record<number, string>> = {
  1: `ALTER TABLE runs ADD COLUMN request TEXT;${LEDGER}`,
  2: PROVENANCE,
  3: GRAPH
}
