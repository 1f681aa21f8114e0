// The dashboard's runs page in headless Chromium against a real `bac serve`, cold (a new browser
// context each time, logged in by a login URL as bac dashboard makes one): from navigation to the first page of runs shown,
// with 10,000 runs in the store against the same node with none (the baseline, same run). Also
// the size of the JavaScript the page loads, gzipped.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { chromium } from 'playwright-core'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bin = path.join(root, 'dist', 'bin', 'bac.mjs')
const CHROMIUM = '/usr/bin/chromium'
if (!existsSync(CHROMIUM)) {
  console.log('skipped: needs /usr/bin/chromium (test setup installs it)')
  process.exit(0)
}
const { openHistory } = await import(path.join(root, 'dist', 'index.js'))
const work = mkdtempSync(path.join(tmpdir(), 'bac-bench-dashboard-'))

/** A data dir with `count` ended runs, written in one transaction. */
function filled (count) {
  const dataDir = path.join(work, `home-${count}`)
  return openHistory({ dataDir }).then((runs) => {
    runs.atomically(() => {
      for (let i = 0; i < count; i++) {
        const id = `bench${String(i).padStart(7, '0')}`
        runs.createRun({ id, pipeline: `p${i % 7}`, pipelineFile: `/p${i % 7}.yml`, summary: 'echo', data: [], trigger: { kind: 'manual' }, inputs: {}, graph: { steps: [] } })
        runs.finishRun(id, i % 10 === 0 ? 'failed' : 'succeeded', {})
      }
    })
    runs.close()
    return dataDir
  })
}

async function serve (dataDir) {
  const child = spawn(process.execPath, [bin, 'serve', '--no-pipelines', '--api', '127.0.0.1:0', '--port', '0', '--data-dir', dataDir], { stdio: ['ignore', 'ignore', 'pipe'] })
  let text = ''
  const login = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      text += d
      const m = /dashboard: (\S+)/.exec(text)
      if (m !== null) resolve(new URL(m[1]).origin)
    })
    child.once('exit', () => { reject(new Error(`bac serve ended: ${text}`)) })
  })
  const token = JSON.parse(readFileSync(path.join(dataDir, 'api.json'), 'utf8')).token
  // a login URL per page load (each code is good once), made as bac dashboard makes it
  const fresh = async () => {
    const answer = await (await fetch(`${login}/api/v1/login-codes`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).json()
    return `${login}/#login=${answer.code}`
  }
  return { child, fresh }
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
})
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const results = {}
const nodes = {}
for (const count of [0, 10_000]) nodes[count] = await serve(await filled(count))
for (let round = 0; round < 7; round++) {
  for (const count of [0, 10_000]) {
    const context = await browser.newContext()
    const page = await context.newPage()
    const url = await nodes[count].fresh()
    const t0 = performance.now()
    await page.goto(url)
    await page.waitForSelector(count === 0 ? 'text=No runs yet' : 'table.runs tbody tr:nth-child(50)')
    ;(results[count] ??= []).push(performance.now() - t0)
    await context.close()
  }
}
await browser.close()
for (const { child } of Object.values(nodes)) child.kill('SIGTERM')
rmSync(work, { recursive: true, force: true })
const js = readFileSync(path.join(root, 'dist', 'dashboard', 'assets', 'app.js'))
const css = readFileSync(path.join(root, 'dist', 'dashboard', 'assets', 'app.css'))
const none = median(results[0])
const many = median(results[10_000])
console.log(`runs page, cold, login to the first 50 runs shown: ${many.toFixed(0)} ms with 10,000 runs vs ${none.toFixed(0)} ms with none: ${(many / none).toFixed(2)}x (median of 7; target < 300 ms)`)
console.log(`JavaScript ${(js.length / 1024).toFixed(1)} KiB, ${(gzipSync(js).length / 1024).toFixed(1)} KiB gzipped (target <= 250 KB); CSS ${(gzipSync(css).length / 1024).toFixed(1)} KiB gzipped`)
