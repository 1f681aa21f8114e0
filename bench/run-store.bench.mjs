// bench/run-store: a run store with 10,000 runs (3 steps and 3 executions each): a cold process
// opening it and listing the newest 50, and the whole `bac job list` command, against
// `node -e 0` in the same run. Target for the command: <= 300 ms.
import { benchDir } from './work-dir.mjs'
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const MODULE = path.join(ROOT, 'dist', 'storage', 'sqlite-run-store.js')
const { openRunStore } = await import(MODULE)
const RUNS = 10_000
const work = benchDir('bac-bench-runs')
const file = path.join(work, 'runs.db')

try {
  let t = performance.now()
  const store = openRunStore({ file })
  for (let i = 0; i < RUNS; i++) {
    const id = `run${String(i).padStart(6, '0')}`
    store.createRun({ id, pipeline: 'sales-report', pipelineFile: '/p/sales-report.yml', summary: 'sales-report', data: ['QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'], trigger: { kind: 'manual' }, inputs: { archive: '/data/sales.zip' } })
    store.startRun(id)
    for (const step of ['extract', 'aggregate', 'report']) {
      store.setStep(id, step, { status: 'running', startedAt: Date.now() })
      const e = store.startExecution({ runId: id, stepId: step, attempt: 1, node: 'local', executor: 'process', startedAt: Date.now() })
      store.finishExecution(e, { exitCode: 0, outputsCid: 'QmOut' })
      store.setStep(id, step, { status: 'succeeded', outputsCid: 'QmOut', endedAt: Date.now() })
    }
    store.finishRun(id, 'succeeded', { resultCid: 'QmResult' })
  }
  store.close()
  const fill = performance.now() - t
  const script = `import(${JSON.stringify(MODULE)}).then((m) => { const s = m.openRunStore({ file: ${JSON.stringify(file)} }); const rows = s.listRuns({ limit: 50 }); if (rows.length !== 50) process.exit(1); s.close() })`
  const time = (args) => { const s = performance.now(); const r = spawnSync(process.execPath, args, { stdio: 'ignore' }); if (r.status !== 0) throw new Error('failed'); return performance.now() - s }
  const BIN = path.join(ROOT, 'dist', 'bin', 'bac.mjs')
  const base = []; const list = []; const cli = []
  process.env.BAC_HOME = work
  for (let i = 0; i < 11; i++) { base.push(time(['-e', '0'])); list.push(time(['-e', script])); cli.push(time([BIN, 'job', 'list'])) }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  console.log(`filled ${RUNS} runs (3 steps, 3 executions each, ${RUNS * 8} transactions) in ${fill.toFixed(0)} ms: ${(fill / RUNS / 8 * 1000).toFixed(0)} us per change`)
  console.log(`node -e 0                         ${median(base).toFixed(1)} ms`)
  console.log(`cold open + list newest 50        ${median(list).toFixed(1)} ms: ${(median(list) / median(base)).toFixed(2)}x node -e 0 (median of 11)`)
  console.log(`bac job list (cold, whole command) ${median(cli).toFixed(1)} ms: ${(median(cli) / median(base)).toFixed(2)}x node -e 0; target <= 300 ms: ${median(cli) <= 300 ? 'met' : 'MISSED'}`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
