// bench/memory: the peak memory (RSS) of fresh `bac` processes moving a lot of content, each next
// to a baseline measured in the same run: `node -e 0` (what any node process costs), and `cat` and
// `cp` of the same bytes (under GNU time, where installed). Cases: `bac ipfs add`, `cat` and `get`
// of 1 GiB; `bac ipfs get` of a DAG of 100,000 entries (100 folders linking one folder of 1,000
// files: a few hundred KiB of blocks) and `bac ipfs add` of what it wrote; `bac run` of a step
// writing 1 GiB (its outputs added, the result copied to outputs/<run-id>/); `bac job get` of that
// run from a `bac serve` node (a CAR over HTTP, written out), and that node's own peak.
// Target: every bac case under 200 MiB. BENCH_MEMORY_MIB=<n> sets the size (default 1024).
import { benchDir } from './work-dir.mjs'
import { commandPeak, GNU_TIME, nodePeak } from '../test/helpers/peak-rss.mjs'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const BAC = path.join(ROOT, 'dist', 'bin', 'bac.mjs')
const { createFsStore } = await import(path.join(ROOT, 'dist', 'storage', 'index.js'))
const MIB = 1024 * 1024
const SIZE = Number(process.env.BENCH_MEMORY_MIB ?? 1024) * MIB
const TARGET = 200 * MIB
const work = benchDir('bac-bench-memory')
const home = path.join(work, 'home')
const env = { ...process.env, BAC_HOME: home, NO_COLOR: '1' }
const label = SIZE === 1024 * MIB ? '1 GiB' : `${SIZE / MIB} MiB`

const rows = []
function row (name, result, amount) {
  const rate = amount === undefined ? '' : amount.bytes !== undefined ? `${(amount.bytes / MIB / (result.ms / 1000)).toFixed(0)} MB/s` : `${(amount.entries / (result.ms / 1000)).toFixed(0)} entries/s`
  rows.push({ name, peak: result.peak, ms: result.ms, rate, bac: name.startsWith('bac') })
  console.log(`${name.padEnd(42)} peak ${String(Math.round(result.peak / MIB)).padStart(5)} MiB  ${(result.ms / 1000).toFixed(1).padStart(6)} s  ${rate}`)
}
async function bac (args, options = {}) {
  const result = await nodePeak([BAC, ...args], { env, cwd: work, ...options })
  if (result.code !== 0) throw new Error(`bac ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
  return result
}

try {
  const big = path.join(work, 'big.bin')
  const fd = openSync(big, 'w')
  for (let written = 0; written < SIZE; written += 4 * MIB) writeSync(fd, randomBytes(Math.min(4 * MIB, SIZE - written)))
  closeSync(fd)

  row('node -e 0', await nodePeak(['-e', '0']))
  if (GNU_TIME !== undefined) {
    row(`cat ${label} > /dev/null`, await commandPeak('cat', [big], { stdout: 'ignore' }), { bytes: SIZE })
    row(`cp ${label}`, await commandPeak('cp', [big, path.join(work, 'copy.bin')]), { bytes: SIZE })
    rmSync(path.join(work, 'copy.bin'))
  } else {
    console.log('(no GNU time in /usr/bin/time: cat and cp not measured)')
  }

  const add = await bac(['ipfs', 'add', big])
  row(`bac ipfs add ${label}`, add, { bytes: SIZE })
  const cid = add.stdout.trim()
  row(`bac ipfs cat ${label} > /dev/null`, await bac(['ipfs', 'cat', cid], { stdout: 'ignore' }), { bytes: SIZE })
  const got = path.join(work, 'got.bin')
  row(`bac ipfs get ${label}`, await bac(['ipfs', 'get', cid, got]), { bytes: SIZE })
  if (readFileSync(got).length !== SIZE) throw new Error('bac ipfs get wrote the wrong size')
  rmSync(got)

  // 100 folders, each linking the same folder of 1,000 small files: 100,000 entries from a few hundred KiB
  const store = createFsStore({ dataDir: home })
  await store.start()
  const files = {}
  for (let i = 0; i < 1000; i++) files[`file-${i}.txt`] = await store.addBytes(Buffer.from(`file ${i}\n`))
  const folder = await store.compose(files)
  const folders = {}
  for (let i = 0; i < 100; i++) folders[`folder-${i}`] = folder
  const wide = await store.compose(folders)
  await store.stop()
  const tree = path.join(work, 'tree')
  row('bac ipfs get 100,000 entries', await bac(['ipfs', 'get', wide, tree]), { entries: 100_100 })
  if (GNU_TIME !== undefined) {
    row('cp -r 100,000 entries', await commandPeak('cp', ['-r', tree, path.join(work, 'tree-copy')]), { entries: 100_100 })
    rmSync(path.join(work, 'tree-copy'), { recursive: true })
  }
  row('bac ipfs add 100,000 entries', await bac(['ipfs', 'add', tree]), { entries: 100_100 })
  rmSync(tree, { recursive: true })

  mkdirSync(path.join(work, 'pipelines'))
  writeFileSync(path.join(work, 'pipelines', 'big.yml'), `name: big\non: { manual: {} }\nsteps:\n  big:\n    run: head -c ${SIZE} /dev/urandom > {{ outputs.path }}/big\n`)
  const run = await bac(['run', 'pipelines/big.yml', '--json'])
  row(`bac run (a step writing ${label})`, run, { bytes: SIZE })
  const runId = run.stdout.split('\n').filter((l) => l.includes('"run:end"')).map((l) => JSON.parse(l).runId)[0]
  rmSync(path.join(work, 'outputs'), { recursive: true, force: true })

  // the run's result from a serving node: a CAR over HTTP, checked and written out
  let stopServe
  const serving = bac(['serve', '--no-pipelines', '--api', '127.0.0.1:0', '--port', '0'], { onStart: (child) => { stopServe = () => child.kill('SIGTERM') } })
  const apiFile = path.join(home, 'api.json')
  for (let i = 0; !existsSync(apiFile); i++) {
    if (i > 600) throw new Error('bac serve did not start within 60 s')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const { url } = JSON.parse(readFileSync(apiFile, 'utf8'))
  try {
    row(`bac job get (${label}, from bac serve)`, await bac(['job', 'get', runId, path.join(work, 'job-out'), '--node', url]), { bytes: SIZE })
  } finally {
    stopServe()
  }
  row('bac serve (serving that CAR)', await serving)

  const over = rows.filter((r) => r.bac && r.peak >= TARGET)
  console.log(`(fresh processes; target: every bac case under ${TARGET / MIB} MiB${over.length === 0 ? ': met' : `: ${over.length} over`})`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
