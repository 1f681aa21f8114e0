// bench/executor: the cost per attempt of the process executor (own process group, clean env,
// capped log files, output accounting) and of the sandbox executor (the same under bubblewrap),
// against a bare child_process.spawn of the same command in the same run: 100 in sequence, then
// 200 at once. Then what reading inputs costs the process executor (as root, each is bound
// read-only in the attempt's mount namespace): the same step with 3 inputs against none.
import { benchDir } from './work-dir.mjs'
import { bareSpawn as bare, trivialStep } from './trivial-step.mjs'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const { createProcessExecutor, createSandboxExecutor } = await import(path.join(ROOT, 'dist', 'executors', 'index.js'))
const SEQUENTIAL = 100
const PARALLEL = 200
const work = benchDir('bac-bench-exec')


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
  const processRun = trivialStep(createProcessExecutor(), work)
  const sandboxRun = trivialStep(createSandboxExecutor(), work)
  await sequential(bare); await sequential(processRun); await sequential(sandboxRun) // warm up
  const rounds = []
  for (let i = 0; i < 3; i++) {
    rounds.push({
      bare: await sequential(bare), process: await sequential(processRun), sandbox: await sequential(sandboxRun),
      barePar: await parallel(bare), processPar: await parallel(processRun), sandboxPar: await parallel(sandboxRun)
    })
  }
  const best = (k) => Math.min(...rounds.map((r) => r[k]))
  const b = best('bare'); const bp = best('barePar')
  for (const kind of ['process', 'sandbox']) {
    const v = best(kind); const vp = best(`${kind}Par`)
    console.log(`${kind.padEnd(8)} ${SEQUENTIAL} in sequence: ${(v / SEQUENTIAL).toFixed(2)} ms each vs bare spawn ${(b / SEQUENTIAL).toFixed(2)} ms: ${(v / b).toFixed(2)}x; ${PARALLEL} at once: ${vp.toFixed(0)} ms vs ${bp.toFixed(0)} ms: ${(vp / bp).toFixed(2)}x`)
  }
  console.log('(best of 3 rounds; the engine issue targets <= 2x for whole steps)')
  const inputs = Object.fromEntries(['a', 'b', 'c'].map((name) => {
    const dir = path.join(work, `input-${name}`)
    mkdirSync(dir, { recursive: true })
    writeFileSync(path.join(dir, 'data.txt'), name)
    return [name, dir]
  }))
  const withInputs = trivialStep(createProcessExecutor(), work, inputs)
  await sequential(withInputs)
  const none = []; const three = []
  for (let i = 0; i < 3; i++) { none.push(await sequential(processRun)); three.push(await sequential(withInputs)) }
  const n0 = Math.min(...none); const n3 = Math.min(...three)
  console.log(`process  with 3 inputs: ${(n3 / SEQUENTIAL).toFixed(2)} ms each vs none ${(n0 / SEQUENTIAL).toFixed(2)} ms: +${((n3 - n0) / SEQUENTIAL / 3).toFixed(2)} ms an input (${process.getuid?.() === 0 ? 'read-only binds' : 'not root: no binds'})`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
