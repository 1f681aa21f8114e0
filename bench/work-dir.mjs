// Where benches keep their data: `$BAC_BENCH_DIR`, else `.bench/` in the project (ignored by git),
// on the disk bac's default data dir (~/.bac) lives on. Not the system temp folder: where it is a
// watched or special mount, every folder made there costs ten times more (measured 221 us per
// mkdir in /tmp against 22 us in /root on the development VM), and the bench would time the mount.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export function benchDir (prefix) {
  const base = process.env.BAC_BENCH_DIR ?? path.join(ROOT, '.bench')
  mkdirSync(base, { recursive: true })
  const dir = mkdtempSync(path.join(base, `${prefix}-`))
  // removed when the bench ends (the network bench leaves ~1 GB), unless BAC_BENCH_KEEP=1
  if (process.env.BAC_BENCH_KEEP !== '1') process.on('exit', () => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}
