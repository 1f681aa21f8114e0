// bench/triggers: how fast triggers start runs, each figure next to a baseline measured in the
// same run.
//   1. drop → start: a file renamed into a watched folder → its step's process running (the step
//      prints its own start time), p50 and p99 over 1,000 files, one at a time; baseline: a bare
//      chokidar watcher's raw and add events for the same renames. Target p50 <= 20 ms, p99 <= 100 ms.
//   2. Arrow batch: one POST of 1,000 Arrow rows → 1,000 runs durably recorded (the 202 answer);
//      baseline: the same bytes POSTed to a bare node:http server that only reads them. Target <= 100 ms.
//   3. soak: 10,000 files dropped at once (bounded memory), every run counted: lost and
//      duplicated, target 0 and 0; throughput and peak RSS printed. BENCH_SOAK=<n> changes the count.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import v8 from 'node:v8'
import vm from 'node:vm'
import { benchDir } from './work-dir.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bacLib = await import(path.join(ROOT, 'dist', 'index.js'))
const { watch } = await import('chokidar')
const { tableFromArrays, tableToIPC } = await import('apache-arrow')
const work = benchDir('bac-bench-triggers')
const now = () => performance.timeOrigin + performance.now()
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const pct = (values, p) => { const s = [...values].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))] }
const ms = (v) => `${v.toFixed(1)} ms`
const parts = (process.env.BENCH_PARTS ?? 'drop,arrow,soak').split(',')

function pipeline (dir, name, yaml) {
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `${name}.yml`)
  writeFileSync(file, yaml)
  const result = bacLib.validatePipeline(file)
  if (result.value === undefined) throw new Error(JSON.stringify(result.problems))
  return result.value
}

/** Files written now, to be renamed in later (a file renamed in was written earlier). */
function stage (dir, count) {
  mkdirSync(dir, { recursive: true })
  for (let i = 0; i < count; i++) writeFileSync(path.join(dir, `f${i}.txt`), `file ${i}\n`)
}

async function dropToStart () {
  const N = Number(process.env.BENCH_DROPS ?? 1000)
  const dir = path.join(work, 'drop-latency')
  const drop = path.join(dir, 'drop')
  const staging = path.join(dir, 'staging')
  mkdirSync(drop, { recursive: true })
  stage(staging, N * 2)
  await sleep(50)

  // baseline: a bare chokidar watcher on the same kind of folder, the same renames
  const renamed = new Map()
  const raw = []
  const added = []
  const watcher = watch(drop, { ignoreInitial: true, depth: 0 })
  watcher.on('raw', (event, name) => {
    const at = renamed.get(name)
    if (event === 'rename' && at !== undefined && !at.raw) { at.raw = true; raw.push(now() - at.t) }
  })
  watcher.on('add', (file) => {
    const at = renamed.get(path.basename(file))
    if (at !== undefined && !at.add) { at.add = true; added.push(now() - at.t) }
  })
  await new Promise((resolve) => watcher.once('ready', resolve))
  for (let i = 0; i < N; i++) {
    const name = `f${i}.txt`
    renamed.set(name, { t: now(), raw: false, add: false })
    renameSync(path.join(staging, name), path.join(drop, name))
    const entry = renamed.get(name)
    while (!(entry.raw && entry.add)) await sleep(1)
    rmSync(path.join(drop, name))
  }
  await watcher.close()

  // bac: the step prints its own start time (ns since the epoch)
  const p = pipeline(dir, 'latency', `name: latency
on:
  watch: { path: ./drop, glob: "*.txt", input: file, after: delete }
inputs:
  file: { type: file }
steps:
  start:
    command: date
    args: ["+%s%N"]
`)
  const dataDir = path.join(dir, 'data')
  const ended = new Map()
  const node = await bacLib.startServing({
    dataDir, pipelines: [p], cwd: dir, concurrency: 2,
    onEvent: (e) => { if (e.type === 'run:end') ended.get(e.runId)?.() ; if (e.type === 'file:taken') taken.set(path.basename(e.path), e.runId) }
  })
  const taken = new Map()
  const dropped = []
  try {
    for (let i = N; i < 2 * N; i++) {
      const name = `f${i}.txt`
      const t = now()
      renameSync(path.join(staging, name), path.join(drop, name))
      while (!taken.has(name)) await sleep(1)
      const runId = taken.get(name)
      await new Promise((resolve) => { ended.set(runId, resolve); if (node.node.runs.getRun(runId)?.status === 'succeeded') resolve() })
      dropped.push({ runId, t })
    }
  } finally {
    await node.stop()
  }
  const latencies = dropped.map(({ runId, t }) => {
    const logs = path.join(dataDir, 'runs', runId, 'logs', 'start')
    const text = readFileSync(path.join(logs, readdirSync(logs)[0], 'stdout.log'), 'utf8')
    return Number(BigInt(text.trim()) / 1000n) / 1000 - t
  })
  console.log(`drop (rename) → step process started, ${N} files one at a time:`)
  console.log(`  chokidar raw event  p50 ${ms(pct(raw, 50))}  p99 ${ms(pct(raw, 99))}`)
  console.log(`  chokidar add event  p50 ${ms(pct(added, 50))}  p99 ${ms(pct(added, 99))}`)
  console.log(`  bac step started    p50 ${ms(pct(latencies, 50))}  p99 ${ms(pct(latencies, 99))}   (target <= 20 ms / <= 100 ms)`)
  console.log(`  bac over chokidar's add event: p50 +${ms(pct(latencies, 50) - pct(added, 50))}`)
}

async function arrowBatch () {
  const ROWS = 1000
  const ROUNDS = 5
  const dir = path.join(work, 'arrow')
  const p = pipeline(dir, 'rows', `name: rows
on:
  message:
    topic: rows
    schema: { type: object, required: [zip_path, target], properties: { zip_path: { type: string }, target: { type: string }, size: { type: integer } } }
steps:
  one:
    command: "true"
`)
  const table = tableFromArrays({
    zip_path: Array.from({ length: ROWS }, (_, i) => `/downloads/archive-${i}.zip`),
    target: Array.from({ length: ROWS }, (_, i) => `set-${i}`),
    size: Int32Array.from({ length: ROWS }, (_, i) => i * 1000)
  })
  const body = tableToIPC(table, 'stream')
  const headers = { 'content-type': 'application/vnd.apache.arrow.stream' }

  // baseline: the same POST to a server that only reads the body
  const bare = createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(202, { 'content-type': 'application/json' }); res.end('{}') }) })
  await new Promise((resolve) => bare.listen(0, '127.0.0.1', resolve))
  const bareUrl = `http://127.0.0.1:${bare.address().port}/`
  const bareTimes = []
  for (let i = 0; i < ROUNDS + 1; i++) {
    const t = performance.now()
    await (await fetch(bareUrl, { method: 'POST', body, headers })).text()
    if (i > 0) bareTimes.push(performance.now() - t)
  }
  bare.close()

  const times = []
  for (let i = 0; i < ROUNDS + 1; i++) {
    // a fresh node each round, its queue held at 1 run so the runs it starts do not share the CPU with the next batch
    const dataDir = path.join(dir, `data-${i}`)
    const node = await bacLib.startServing({ dataDir, pipelines: [p], cwd: dir, concurrency: 1, api: { host: '127.0.0.1', port: 0 } })
    try {
      spawnSync('sync')
      const t = performance.now()
      const res = await fetch(`${node.url}/api/v1/messages/rows`, { method: 'POST', body, headers })
      const answer = await res.json()
      const elapsed = performance.now() - t
      if (res.status !== 202 || answer.runs.length !== ROWS) throw new Error(`unexpected answer ${res.status}`)
      const recorded = node.node.runs.listRuns({ limit: 100_000 }).length
      if (recorded !== ROWS) throw new Error(`${recorded} runs recorded, not ${ROWS}`)
      if (i > 0) times.push(elapsed)
    } finally {
      await node.stop()
    }
  }
  const best = Math.min(...times)
  const median = pct(times, 50)
  console.log(`Arrow batch of ${ROWS} rows → ${ROWS} runs recorded (durably) before the 202, ${ROUNDS} rounds:`)
  console.log(`  bare node:http POST of the same ${body.length} bytes: median ${ms(pct(bareTimes, 50))}`)
  console.log(`  bac: median ${ms(median)}, best ${ms(best)}   (target <= 100 ms); ${(median / pct(bareTimes, 50)).toFixed(1)}x the bare POST`)
}

async function soak () {
  const N = Number(process.env.BENCH_SOAK ?? 10_000)
  const dir = path.join(work, 'soak')
  const drop = path.join(dir, 'drop')
  const staging = path.join(dir, 'staging')
  mkdirSync(drop, { recursive: true })
  stage(staging, N)
  await sleep(50)
  const p = pipeline(dir, 'soak', `name: soak
on:
  watch: { path: ./drop, glob: "*.txt", input: file, after: delete }
inputs:
  file: { type: file }
steps:
  one:
    command: "true"
`)
  // live memory: the heap right after a full collection, sampled every second (peak RSS also
  // counts garbage V8 has not handed back yet)
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc')
  let peakRss = 0
  let peakLive = 0
  let samples = 0
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
    if (++samples % 10 === 0) { gc(); peakLive = Math.max(peakLive, process.memoryUsage().heapUsed) }
  }, 100)
  const node = await bacLib.startServing({ dataDir: path.join(dir, 'data'), pipelines: [p], cwd: dir })
  const rssIdle = process.memoryUsage().rss
  gc()
  const liveIdle = process.memoryUsage().heapUsed
  const t = performance.now()
  try {
    for (let i = 0; i < N; i++) renameSync(path.join(staging, `f${i}.txt`), path.join(drop, `f${i}.txt`))
    const dropped = performance.now() - t
    for (;;) {
      await sleep(500)
      if (readdirSync(drop).length === 0) {
        await node.idle()
        break
      }
    }
    const elapsed = performance.now() - t
    const runs = node.node.runs.listRuns({ limit: N * 2 })
    const perFile = new Map()
    for (const run of runs) { const name = run.trigger.file.name; perFile.set(name, (perFile.get(name) ?? 0) + 1) }
    const lost = N - perFile.size
    const duplicated = [...perFile.values()].filter((n) => n > 1).length
    const failed = runs.filter((r) => r.status !== 'succeeded').length
    console.log(`soak: ${N} files dropped at once (renamed in over ${ms(dropped)}), every run counted in the run store:`)
    console.log(`  lost ${lost}, duplicated ${duplicated}, not succeeded ${failed}   (target 0 and 0)`)
    console.log(`  ${(N / (elapsed / 1000)).toFixed(0)} runs/s (${(elapsed / 1000).toFixed(1)} s); RSS idle ${(rssIdle / 2 ** 20).toFixed(0)} MiB, peak ${(peakRss / 2 ** 20).toFixed(0)} MiB; live heap idle ${(liveIdle / 2 ** 20).toFixed(0)} MiB, peak ${(peakLive / 2 ** 20).toFixed(0)} MiB`)
  } finally {
    clearInterval(sampler)
    await node.stop()
  }
}

try {
  if (parts.includes('drop')) await dropToStart()
  if (parts.includes('arrow')) await arrowBatch()
  if (parts.includes('soak')) await soak()
} finally {
  rmSync(work, { recursive: true, force: true })
}
