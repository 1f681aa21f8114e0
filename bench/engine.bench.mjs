// bench/engine: whole-step overhead of the engine (render, run store records, executor, outputs
// added to the store) on 100 trivial chained steps and on 200 parallel steps, against 100 (or
// 200) bare child_process.spawn of the same command in the same run. Target <= 2x.
import { benchDir } from './work-dir.mjs'
import { spawn, spawnSync } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROUNDS = 5
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bacLib = await import(path.join(ROOT, 'dist', 'index.js'))
const work = benchDir('bac-bench-engine')

function pipeline (name, count, chained) {
  const lines = [`name: ${name}`, 'steps:']
  for (let i = 0; i < count; i++) lines.push(`  s${i}:`, ...(chained && i > 0 ? [`    needs: s${i - 1}`] : []), '    command: "true"')
  const file = path.join(work, `${name}.yml`)
  writeFileSync(file, lines.join('\n') + '\n')
  const result = bacLib.validatePipeline(file)
  if (result.value === undefined) throw new Error(JSON.stringify(result.errors))
  return result.value
}
const bare = () => new Promise((resolve, reject) => {
  const child = spawn('true', [], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.on('error', reject)
  child.on('close', resolve)
})

const node = await bacLib.openNode({ dataDir: path.join(work, 'data') })
try {
  const chained = pipeline('chained', 100, true)
  const parallel = pipeline('parallel', 200, false)
  const runIt = async (p) => {
    const start = performance.now()
    const outcome = await node.run(p, { noCache: true, cwd: work, concurrency: 8 })
    if (outcome.status !== 'succeeded') throw new Error(outcome.reason)
    return performance.now() - start
  }
  await runIt(chained) // warm up
  const rounds = []
  for (let i = 0; i < ROUNDS; i++) {
    // each round starts with the disk settled: what earlier rounds wrote is flushed first, so
    // neither side is timed against the other's writeback
    spawnSync('sync')
    let t = performance.now()
    for (let j = 0; j < 100; j++) await bare()
    const bareSeq = performance.now() - t
    t = performance.now()
    await Promise.all(Array.from({ length: 200 }, bare))
    const barePar = performance.now() - t
    spawnSync('sync')
    const chainedMs = await runIt(chained)
    spawnSync('sync')
    rounds.push({ bareSeq, barePar, chained: chainedMs, parallel: await runIt(parallel) })
  }
  const best = (k) => Math.min(...rounds.map((r) => r[k]))
  const median = (k) => rounds.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(rounds.length / 2)]
  console.log(`100 chained steps: ${best('chained').toFixed(0)} ms (${(best('chained') / 100).toFixed(2)} ms a step) vs 100 bare spawns ${best('bareSeq').toFixed(0)} ms: ${(best('chained') / best('bareSeq')).toFixed(2)}x`)
  console.log(`200 parallel steps (8 at once): ${best('parallel').toFixed(0)} ms vs 200 bare spawns at once ${best('barePar').toFixed(0)} ms: ${(best('parallel') / best('barePar')).toFixed(2)}x`)
  console.log(`medians: chained ${(median('chained') / median('bareSeq')).toFixed(2)}x, parallel ${(median('parallel') / median('barePar')).toFixed(2)}x`)
  console.log(`(best of ${ROUNDS}; whole runs, including each step's records, outputs added to the store, and the result; target <= 2x)`)
} finally {
  await node.close()
  rmSync(work, { recursive: true, force: true })
}
