// bench/executor: the process executor's cost per attempt (own process group, clean env, capped
// log files, output accounting), against a bare child_process.spawn of the same command in the
// same run: 100 in sequence, then 200 at once.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const { createProcessExecutor } = await import(path.join(ROOT, 'dist', 'executors', 'index.js'))
const SEQUENTIAL = 100
const PARALLEL = 200
const work = mkdtempSync(path.join(tmpdir(), 'bac-bench-exec-'))

const bare = () => new Promise((resolve, reject) => {
  const child = spawn('true', [], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.on('error', reject)
  child.on('close', resolve)
})
const executor = createProcessExecutor()
let n = 0
const viaBac = async () => {
  const dir = path.join(work, String(n++))
  const r = await executor.execute({
    action: { kind: 'command', command: 'true', args: [] },
    env: {},
    inputs: {},
    outputsDir: path.join(dir, 'outputs'),
    workDir: path.join(dir, 'work'),
    logsDir: path.join(dir, 'logs')
  })
  if (r.exitCode !== 0) throw new Error(`attempt failed: ${JSON.stringify(r)}`)
}

async function sequential (fn) {
  const start = performance.now()
  for (let i = 0; i < SEQUENTIAL; i++) await fn()
  return performance.now() - start
}
async function parallel (fn) {
  const start = performance.now()
  await Promise.all(Array.from({ length: PARALLEL }, fn))
  return performance.now() - start
}

try {
  await sequential(bare); await sequential(viaBac) // warm up both
  const rounds = []
  for (let i = 0; i < 3; i++) rounds.push({ bare: await sequential(bare), bac: await sequential(viaBac), barePar: await parallel(bare), bacPar: await parallel(viaBac) })
  const best = (k) => Math.min(...rounds.map((r) => r[k]))
  const b = best('bare'); const v = best('bac'); const bp = best('barePar'); const vp = best('bacPar')
  console.log(`${SEQUENTIAL} in sequence: bare spawn ${b.toFixed(0)} ms (${(b / SEQUENTIAL).toFixed(2)} ms each), process executor ${v.toFixed(0)} ms (${(v / SEQUENTIAL).toFixed(2)} ms each): ${(v / b).toFixed(2)}x`)
  console.log(`${PARALLEL} at once:   bare spawn ${bp.toFixed(0)} ms, process executor ${vp.toFixed(0)} ms: ${(vp / bp).toFixed(2)}x`)
  console.log('(best of 3 rounds; the engine issue targets <= 2x for whole steps)')
} finally {
  rmSync(work, { recursive: true, force: true })
}
