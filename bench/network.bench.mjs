// bench/network: the network's costs, each against a baseline measured in the same run.
//  1. added latency of a trivial step run on a peer, against the same step run locally (target <= 5 ms)
//  2. trivial steps a second spread over 3 nodes, against the same steps on the lone requester (target >= 500/s)
//  3. transfer of 100 MB between two nodes (block stream, and bitswap), against a raw TCP copy of the same bytes (target >= 200 MB/s)
//  4. time from a remote step's exit to its outputs being readable on the requester (target <= 50 ms),
//     against the same for a local step
// The requester runs in this process; the compute nodes are `bac serve` processes on loopback.
import { benchDir } from './work-dir.mjs'
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync, readFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const BAC = path.join(ROOT, 'dist', 'bin', 'bac.mjs')
const bacLib = await import(path.join(ROOT, 'dist', 'index.js'))
const work = benchDir('bac-bench-network')
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

function pipeline (name, body) {
  const file = path.join(work, `${name}.yml`)
  writeFileSync(file, `name: ${name}\n${body}`)
  const result = bacLib.validatePipeline(file)
  if (result.value === undefined) throw new Error(JSON.stringify(result.errors))
  return result.value
}

function startCompute (name, peer, label) {
  const child = spawn(process.execPath, [BAC, 'serve', '--json', '--no-pipelines', '--dev', '--port', '0', '--api', '127.0.0.1:0', '--data-dir', path.join(work, name), '--peer', peer, '--label', label], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try { const e = JSON.parse(line); if (e.type === 'node:ready') resolve({ child, ...e }) } catch {}
    })
    child.once('exit', (code) => reject(new Error(`compute node ${name} exited ${code}`)))
  })
}

async function until (check, what) {
  const end = Date.now() + 30_000
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const requester = await bacLib.openNode({ dataDir: path.join(work, 'requester'), network: { dev: true, advertIntervalMs: 1000 } })
const addr = requester.network.addrs()[0]
const computes = await Promise.all([startCompute('b', addr, 'far'), startCompute('c', addr, 'far')])
try {
  await until(() => requester.network.peers().length === 2, 'the compute nodes to join')
  const run = async (p, options = {}) => {
    const start = performance.now()
    const outcome = await requester.run(p, { noCache: true, cwd: work, ...options })
    if (outcome.status !== 'succeeded') throw new Error(`${p.name}: ${outcome.reason}`)
    return { ms: performance.now() - start, outcome }
  }

  // 1. added latency: 50 chained trivial steps on a peer, and here
  const chain = (n, where) => Array.from({ length: n }, (_, i) => `  s${i}:\n${i > 0 ? `    needs: s${i - 1}\n` : ''}${where}    command: "true"\n`).join('')
  const local = pipeline('chain-local', `steps:\n${chain(50, '')}`)
  const remote = pipeline('chain-remote', `steps:\n${chain(50, '    runs-on: far\n')}`)
  await run(local); await run(remote)
  const lat = { local: [], remote: [] }
  for (let i = 0; i < 5; i++) {
    lat.local.push((await run(local)).ms / 50)
    lat.remote.push((await run(remote)).ms / 50)
  }
  const added = median(lat.remote) - median(lat.local)
  console.log(`trivial step, chained, median of 5 x 50: on a peer ${median(lat.remote).toFixed(2)} ms, here ${median(lat.local).toFixed(2)} ms: added ${added.toFixed(2)} ms a step (${(median(lat.remote) / median(lat.local)).toFixed(2)}x)`)

  // 2. throughput: 600 trivial steps (foreach), spread over the 3 nodes, and on this node alone
  const items = JSON.stringify(Array.from({ length: 600 }, (_, i) => i))
  const spread = pipeline('spread', `steps:\n  many:\n    foreach: ${items}\n    command: "true"\n`)
  const alone = await bacLib.openNode({ dataDir: path.join(work, 'alone') })
  const aloneRun = async () => {
    const start = performance.now()
    const outcome = await alone.run(spread, { noCache: true, cwd: work })
    if (outcome.status !== 'succeeded') throw new Error(outcome.reason)
    return performance.now() - start
  }
  await run(spread); await aloneRun()
  const tp = { spread: [], alone: [] }
  for (let i = 0; i < 3; i++) {
    tp.spread.push(600 / ((await run(spread)).ms / 1000))
    tp.alone.push(600 / ((await aloneRun()) / 1000))
  }
  await alone.close()
  console.log(`600 trivial steps (foreach), median of 3: over 3 nodes ${median(tp.spread).toFixed(0)} steps/s, one node alone ${median(tp.alone).toFixed(0)} steps/s (${(median(tp.spread) / median(tp.alone)).toFixed(2)}x)`)

  // 3. 100 MB between two nodes, each its own process (the source a `bac serve`): the bulk block
  //    stream (/bac/blocks/1.0.0) and bitswap, against a raw TCP copy of the same bytes from a
  //    child process. Each blob once: a warm-up, then 3 measured, the median reported.
  const SIZE = 100 * 1024 * 1024
  const mbs = (ms) => (SIZE / 1024 / 1024) / (ms / 1000)
  const sourceDir = path.join(work, 'source')
  const blobs = []
  for (let i = 0; i < 5; i++) {
    const blob = path.join(work, `blob-${i}.bin`)
    writeFileSync(blob, randomBytes(SIZE))
    blobs.push({ blob, cid: execFileSync(process.execPath, [BAC, 'ipfs', 'add', blob, '--data-dir', sourceDir]).toString().trim() })
  }
  const source = await startCompute('source', addr, 'store')
  computes.push(source)
  await until(() => requester.network.peers().some((p) => p.advert.peerId === source.peerId), 'the source node to join')
  const tcpCopy = async (file) => {
    const server = spawn(process.execPath, ['-e', `const b = require('fs').readFileSync(${JSON.stringify(file)}); const s = require('net').createServer((c) => c.end(b)).listen(0, '127.0.0.1', () => console.log(s.address().port))`], { stdio: ['ignore', 'pipe', 'inherit'] })
    const port = await new Promise((resolve) => createInterface({ input: server.stdout }).once('line', (l) => resolve(Number(l))))
    const ms = await new Promise((resolve) => {
      const start = performance.now()
      let got = 0
      const client = net.connect(port, '127.0.0.1')
      client.on('data', (d) => { got += d.length })
      client.on('end', () => { if (got !== SIZE) throw new Error(`raw TCP got ${got} bytes`); resolve(performance.now() - start) })
    })
    server.kill()
    return ms
  }
  const fetchTime = async (cid, via) => {
    const start = performance.now()
    await requester.network.fetch(cid, source.peerId, { via })
    return performance.now() - start
  }
  const xfer = { blocks: [], bitswap: [], tcp: [] }
  await fetchTime(blobs[0].cid, 'blocks'); await tcpCopy(blobs[0].blob)
  for (let i = 1; i < 4; i++) {
    xfer.blocks.push(await fetchTime(blobs[i].cid, 'blocks'))
    xfer.tcp.push(await tcpCopy(blobs[i].blob))
  }
  xfer.bitswap.push(await fetchTime(blobs[4].cid, 'bitswap'))
  const check = path.join(work, 'fetched.bin')
  await requester.store.get(blobs[3].cid, check)
  if (!readFileSync(check).equals(readFileSync(blobs[3].blob))) throw new Error('the fetched bytes differ')
  console.log(`100 MB between two node processes, median of 3: block stream ${median(xfer.blocks).toFixed(0)} ms = ${mbs(median(xfer.blocks)).toFixed(0)} MB/s; raw TCP copy ${median(xfer.tcp).toFixed(0)} ms = ${mbs(median(xfer.tcp)).toFixed(0)} MB/s (${(median(xfer.blocks) / median(xfer.tcp)).toFixed(1)}x the time); bitswap alone (once) ${mbs(xfer.bitswap[0]).toFixed(0)} MB/s`)

  // 4. a step's exit to its outputs readable here: the step's last act is to print the time
  const exitTimes = { remote: [], local: [] }
  const stamped = (where) => pipeline(`stamp-${where}`, `steps:\n  out:\n${where === 'remote' ? '    runs-on: far\n' : ''}    run: |\n      head -c 1048576 /dev/urandom > {{ outputs.path }}/data.bin\n      date +%s%3N\n`)
  for (const where of ['remote', 'local']) {
    const p = stamped(where)
    for (let i = 0; i < 6; i++) {
      let exitedAt = 0
      let readableAt = 0
      const outcome = await requester.run(p, {
        noCache: true,
        cwd: work,
        onEvent: (e) => {
          if (e.type === 'step:log' && e.stream === 'stdout') exitedAt = Number(e.text.trim())
          if (e.type === 'step:end') readableAt = Date.now()
        }
      })
      if (outcome.status !== 'succeeded') throw new Error(outcome.reason)
      // the first is a warm-up
      if (i > 0) exitTimes[where].push(readableAt - exitedAt)
    }
  }
  console.log(`1 MB of outputs, step exit to outputs readable here (median of 5): from a peer ${median(exitTimes.remote).toFixed(0)} ms, from a local step ${median(exitTimes.local).toFixed(0)} ms`)
} finally {
  for (const c of computes) c.child.kill('SIGTERM')
  await requester.close()
}
