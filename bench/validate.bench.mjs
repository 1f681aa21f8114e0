// bench/validate: `bac validate` on 100 pipelines in one cold process, against a bare
// `node -e 0` measured in the same run. Target: at most 300 ms.
import { benchDir } from './work-dir.mjs'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const BIN = path.join(ROOT, 'dist', 'bin', 'bac.mjs')
const PIPELINES = 100
const RUNS = Number(process.env.BENCH_RUNS ?? 15)
const TARGET_MS = 300

// a project of 100 pipelines: the shipped ones, renamed and varied, all valid
const project = benchDir('bac-bench')
cpSync(path.join(ROOT, 'jobstore'), path.join(project, 'jobstore'), { recursive: true })
cpSync(path.join(ROOT, 'scripts'), path.join(project, 'scripts'), { recursive: true })
cpSync(path.join(ROOT, 'pipelines', 'data'), path.join(project, 'pipelines', 'data'), { recursive: true })
const shipped = ['hello', 'sed-csv', 'sales-report'].map((n) => readFileSync(path.join(ROOT, 'pipelines', `${n}.yml`), 'utf8'))
mkdirSync(path.join(project, 'pipelines'), { recursive: true })
for (let i = 0; i < PIPELINES; i++) {
  const text = (shipped[i % shipped.length] ?? '').replace(/^name: (.*)$/m, `name: $1-${i}`)
  const extra = i % 4 === 0 ? `\n  report-${i}:\n    needs: ${i % 3 === 2 ? 'aggregate' : (i % 3 === 1 ? 'replace' : 'shout')}\n    timeout: 30s\n    retries: { attempts: 3, backoff: 2s }\n    run: echo {{ run.id }} {{ inputs.${i % 3 === 0 ? 'who' : (i % 3 === 1 ? 'find' : 'group_by')} }} > {{ outputs.path }}/report.txt\n` : ''
  writeFileSync(path.join(project, 'pipelines', `p${String(i).padStart(3, '0')}.yml`), text + extra)
}

function time (args, cwd) {
  const start = process.hrtime.bigint()
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' })
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  return { ms, r }
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }

try {
  const check = time([BIN, 'validate', 'pipelines', 'jobstore'], project).r
  if (check.status !== 0) throw new Error(`the bench pipelines are not valid:\n${check.stdout}${check.stderr}`)
  if (!check.stderr.startsWith(`${PIPELINES + 2} files valid`)) throw new Error(`unexpected: ${check.stderr}`)
  const baseline = []
  const bac = []
  for (let i = 0; i < RUNS; i++) { // interleaved, so both see the same machine
    baseline.push(time(['-e', '0'], project).ms)
    bac.push(time([BIN, 'validate', 'pipelines', 'jobstore'], project).ms)
  }
  const b = median(baseline)
  const v = median(bac)
  console.log(`node -e 0                         ${b.toFixed(1)} ms (median of ${RUNS})`)
  console.log(`bac validate, ${PIPELINES} pipelines + 2 jobs ${v.toFixed(1)} ms (median of ${RUNS})`)
  console.log(`ratio                             ${(v / b).toFixed(2)}x node -e 0; ${((v - b) / PIPELINES).toFixed(2)} ms per pipeline above a bare node`)
  console.log(`target                            <= ${TARGET_MS} ms: ${v <= TARGET_MS ? 'met' : 'MISSED'}`)
} finally {
  rmSync(project, { recursive: true, force: true })
}
