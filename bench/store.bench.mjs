// bench/store: the embedded content store adding and reading back a 100 MB file, against
// `sha256sum` of the same file in the same run (hashing is the floor of any content-addressed
// add). Printed as throughput and as a ratio: >= 1.0x means bac is at least as fast.
import { benchDir } from './work-dir.mjs'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { openSync, closeSync, writeSync, rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const { createFsStore } = await import(path.join(ROOT, 'dist', 'storage', 'index.js'))
const SIZE = 100 * 1024 * 1024
const work = benchDir('bac-bench-store')
const file = path.join(work, 'data.bin')
const fd = openSync(file, 'w')
for (let written = 0; written < SIZE; written += 4 * 1024 * 1024) writeSync(fd, randomBytes(Math.min(4 * 1024 * 1024, SIZE - written)))
closeSync(fd)

const mbps = (ms) => (SIZE / 1024 / 1024) / (ms / 1000)
try {
  const rounds = []
  for (let i = 0; i < 3; i++) {
    let t = performance.now()
    execFileSync('sha256sum', [file], { stdio: 'ignore' })
    const sha = performance.now() - t
    const store = createFsStore({ dataDir: path.join(work, `store-${i}`) })
    await store.start()
    t = performance.now()
    const cid = await store.addPath(file)
    const add = performance.now() - t
    t = performance.now()
    let bytes = 0
    for await (const chunk of store.cat(cid)) bytes += chunk.length
    const cat = performance.now() - t
    if (bytes !== SIZE) throw new Error(`cat returned ${bytes} bytes`)
    await store.stop()
    rounds.push({ sha, add, cat })
  }
  const best = (k) => Math.min(...rounds.map((r) => r[k]))
  const sha = best('sha'); const add = best('add'); const cat = best('cat')
  console.log(`sha256sum 100 MB  ${sha.toFixed(0)} ms (${mbps(sha).toFixed(0)} MB/s)`)
  console.log(`store add 100 MB  ${add.toFixed(0)} ms (${mbps(add).toFixed(0)} MB/s): ${(sha / add).toFixed(2)}x sha256sum`)
  console.log(`store cat 100 MB  ${cat.toFixed(0)} ms (${mbps(cat).toFixed(0)} MB/s): ${(sha / cat).toFixed(2)}x sha256sum`)
  console.log('(best of 3; target >= 1.0x)')
} finally {
  rmSync(work, { recursive: true, force: true })
}
