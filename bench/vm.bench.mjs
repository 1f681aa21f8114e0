// bench/vm: step start -> exit of a trivial command (`true`) in the vm executor, each step in a
// fresh microVM started from the saved state of a booted one, against, in the same run: a bare
// child_process.spawn of `true`, the process executor, and a VM booted from scratch for the step
// (the cold boot). Median of 10 each, in sequence. Uses the images test setup builds
// (.cache/images, or $BAC_IMAGES); builds kernel and base there when they are missing. Also: 8
// VM steps at once, and the first step of a machine size (a cold boot that saves the state).
import { benchDir } from './work-dir.mjs'
import { bareSpawn as bare, trivialStep } from './trivial-step.mjs'
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const { createProcessExecutor, createVmExecutor, ImageStore } = await import(path.join(ROOT, 'dist', 'executors', 'index.js'))
const RUNS = 10
const COLD_RUNS = 5
const images = process.env.BAC_IMAGES ?? path.join(ROOT, '.cache', 'images')
const work = benchDir('bac-bench-vm')

const store = new ImageStore(images)
for (const recipe of ['kernel', 'base']) {
  if (!existsSync(path.join(images, 'names', recipe))) {
    console.log(`building the ${recipe} image into ${images} (once)`)
    await store.build(path.join(ROOT, 'images', recipe))
  }
}

// the cold boots get their own images folder (the same images, linked) so no saved state exists
const coldImages = path.join(work, 'images')
mkdirSync(path.join(coldImages, 'names'), { recursive: true })
for (const name of ['kernel', 'base']) {
  const digest = readFileSync(path.join(images, 'names', name), 'utf8').trim()
  const dir = digest.replace(':', '-')
  mkdirSync(path.join(coldImages, dir))
  for (const file of readdirSync(path.join(images, dir))) linkSync(path.join(images, dir, file), path.join(coldImages, dir, file))
  writeFileSync(path.join(coldImages, 'names', name), `${digest}\n`)
}

async function timed (fn, runs) {
  const times = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    await fn()
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  return { median: times[Math.floor(times.length / 2)], min: times[0], max: times.at(-1) }
}
const ms = (t) => `${t.median.toFixed(1)} ms (${t.min.toFixed(0)}-${t.max.toFixed(0)})`

const vm = trivialStep(createVmExecutor({ imagesDir: images }), work)
const firstStart = performance.now()
await vm() // the first step of this machine size saves the ready state, unless an earlier run did
const first = performance.now() - firstStart
await timed(bare, 3)
const bareT = await timed(bare, RUNS)
const processT = await timed(trivialStep(createProcessExecutor(), work), RUNS)
const vmT = await timed(vm, RUNS)
// 8 steps at once (each its own VM; this machine has 2 cores)
const parStart = performance.now()
await Promise.all(Array.from({ length: 8 }, () => vm()))
const parallel8 = performance.now() - parStart
const saveStart = performance.now()
await trivialStep(createVmExecutor({ imagesDir: coldImages }), work)()
const save = performance.now() - saveStart
const coldT = await timed(trivialStep(createVmExecutor({ imagesDir: coldImages, fromSnapshot: false }), work), COLD_RUNS)

console.log(`bare spawn of true:           ${ms(bareT)}`)
console.log(`process executor:             ${ms(processT)}`)
console.log(`vm step, start -> exit:       ${ms(vmT)}  = ${(vmT.median / bareT.median).toFixed(0)}x a bare spawn, ${(vmT.median / coldT.median).toFixed(2)}x a cold boot; target <= 500 ms: ${vmT.median <= 500 ? 'met' : 'NOT met'}`)
console.log(`vm step, cold boot (median of ${COLD_RUNS}): ${ms(coldT)}`)
console.log(`8 vm steps at once:           ${parallel8.toFixed(0)} ms in all, ${(parallel8 / 8).toFixed(0)} ms a step (${(8000 / parallel8).toFixed(1)} VM steps/s)`)
console.log(`first step of a machine size (cold boot + saving its state): ${save.toFixed(0)} ms; this run's first step on the shared images: ${first.toFixed(0)} ms`)
