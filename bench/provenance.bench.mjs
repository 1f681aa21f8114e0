// bench/provenance: what the signed provenance record costs a run, against the same run without
// it (a node opened with `records: false`), measured in the same run of the bench:
// - warm: one process, 30 runs each of a one-step pipeline and of the demo (two steps, job
//   templates), records on and off, interleaved;
// - fresh: a new process per run, as `bac run` is (the DSSE module and the git commands load and
//   run once per process), 10 each, on and off interleaved;
// - the record's size, and `bac verify` of a result as a fresh process, against `bac job list`.
import { spawnSync } from 'node:child_process'
import { cpSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchDir } from './work-dir.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const INDEX = path.join(ROOT, 'dist', 'index.js')
const BIN = path.join(ROOT, 'dist', 'bin', 'bac.mjs')
const bacLib = await import(INDEX)
const work = benchDir('bac-bench-provenance')
cpSync(path.join(ROOT, 'jobstore'), path.join(work, 'jobstore'), { recursive: true })
cpSync(path.join(ROOT, 'scripts'), path.join(work, 'scripts'), { recursive: true })
cpSync(path.join(ROOT, 'pipelines'), path.join(work, 'pipelines'), { recursive: true })
// a project in git, as pipelines are kept: the record names its commit and whether it is dirty
const git = (...args) => spawnSync('git', ['-C', work, ...args], { env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' } })
git('init', '-q')
writeFileSync(path.join(work, 'pipelines', 'one.yml'), 'name: one\nsteps:\n  one:\n    command: "true"\n')
git('add', 'pipelines', 'jobstore', 'scripts')
git('commit', '-q', '-m', 'bench')

const load = (name) => {
  const result = bacLib.validatePipeline(path.join(work, 'pipelines', `${name}.yml`))
  if (result.value === undefined) throw new Error(JSON.stringify(result.errors))
  return result.value
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

// warm: two nodes, one keeping records
const on = await bacLib.openNode({ dataDir: path.join(work, 'on') })
const off = await bacLib.openNode({ dataDir: path.join(work, 'off'), records: false })
const sizes = {}
try {
  for (const name of ['one', 'sales-report']) {
    const pipeline = load(name)
    const times = { on: [], off: [] }
    const once = async (node, key) => {
      const start = performance.now()
      const outcome = await node.run(pipeline, { noCache: true, cwd: work, outputsDir: null })
      if (outcome.status !== 'succeeded') throw new Error(outcome.reason)
      times[key].push(performance.now() - start)
      return outcome
    }
    await once(on, 'on'); await once(off, 'off')
    times.on.length = 0; times.off.length = 0
    let last
    for (let i = 0; i < 30; i++) {
      last = await once(on, 'on')
      await once(off, 'off')
    }
    sizes[name] = { bytes: on.runs.provenance(last.runId).length, cid: last.resultCid }
    const added = median(times.on) - median(times.off)
    console.log(`warm, ${name}: ${median(times.on).toFixed(2)} ms a run with its record vs ${median(times.off).toFixed(2)} ms without: +${added.toFixed(2)} ms (${(median(times.on) / median(times.off)).toFixed(2)}x); record ${sizes[name].bytes} bytes`)
  }
} finally {
  await on.close()
  await off.close()
}

// fresh: one run per process, as bac run is
const script = `
const bac = await import(${JSON.stringify(INDEX)})
const node = await bac.openNode({ dataDir: process.argv[1], records: process.argv[2] === 'on' })
const pipeline = bac.validatePipeline(process.argv[3]).value
const start = performance.now()
const outcome = await node.run(pipeline, { noCache: true, outputsDir: null, cwd: ${JSON.stringify(work)} })
const ms = performance.now() - start
await node.close()
if (outcome.status !== 'succeeded') process.exit(1)
console.log(ms)
`
for (const name of ['one', 'sales-report']) {
  const times = { on: [], off: [] }
  for (let i = 0; i < 10; i++) {
    for (const key of ['on', 'off']) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, path.join(work, `fresh-${key}`), key, path.join(work, 'pipelines', `${name}.yml`)], { encoding: 'utf8' })
      if (r.status !== 0) throw new Error(r.stderr)
      times[key].push(Number(r.stdout.trim()))
    }
  }
  console.log(`fresh process, ${name}: the run takes ${median(times.on).toFixed(1)} ms with its record vs ${median(times.off).toFixed(1)} ms without: +${(median(times.on) - median(times.off)).toFixed(1)} ms`)
}

// bac verify as a user runs it, against bac job list on the same data dir
const wall = (args) => {
  const times = []
  for (let i = 0; i < 7; i++) {
    const t = performance.now()
    const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', path.join(work, 'on')], { encoding: 'utf8' })
    times.push(performance.now() - t)
    if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stdout}${r.stderr}`)
  }
  return median(times)
}
const verify = wall(['verify', sizes['sales-report'].cid])
const list = wall(['job', 'list'])
console.log(`bac verify of the demo's result: ${verify.toFixed(0)} ms a process vs bac job list ${list.toFixed(0)} ms (${(verify / list).toFixed(2)}x)`)
