import assert from 'node:assert/strict'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { chromium, type Browser } from 'playwright-core'
import { startBac } from '../helpers/cli.js'
import { ROOT } from '../helpers/paths.js'
import { until } from '../helpers/until.js'

/** Debian's chromium (test setup installs it); no browser is downloaded. */
const CHROMIUM = '/usr/bin/chromium'

/**
 * Web pages in a real browser (headless Chromium) try what a page on any site the user visits
 * could: a form that posts to the node's API, fetches that need no preflight, reading an
 * answer, and a name of its own pointed at 127.0.0.1 (DNS rebinding). None may start a run.
 */
describe('web pages in a real browser cannot use a node\'s API', { skip: existsSync(CHROMIUM) ? false : 'needs chromium (test setup installs it)' }, () => {
  const work = mkdtempSync(path.join(tmpdir(), 'bac-browser-'))
  const project = path.join(work, 'project')
  const home = path.join(work, 'home')
  const marker = path.join(work, 'pwned')
  let node: Awaited<ReturnType<typeof startBac>>
  let api: { url: string, token: string }
  let attacker: Server
  let site = ''
  let browser: Browser
  const reports: string[] = []

  before(async () => {
    for (const dir of ['pipelines', 'jobstore', 'scripts']) cpSync(path.join(ROOT, dir), path.join(project, dir), { recursive: true })
    node = await startBac(['serve', '--api', '127.0.0.1:0', '--port', '0'], /API http:\/\/127\.0\.0\.1:\d+/, { cwd: project, env: { BAC_HOME: home } })
    api = JSON.parse(readFileSync(path.join(home, 'api.json'), 'utf8')) as { url: string, token: string }
    // the attacker's site: its pages, and where they report what they could do
    attacker = createServer((req, res) => {
      if (req.url?.startsWith('/report') === true) {
        let body = ''
        req.on('data', (c: Buffer) => { body += c.toString() })
        req.on('end', () => { reports.push(body); res.end('ok') })
        return
      }
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(page(api.url))
    })
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.2', resolve))
    site = `http://127.0.0.2:${(attacker.address() as AddressInfo).port}`
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // the page's own name for 127.0.0.1, as a rebinding attack gets it from its DNS
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--host-resolver-rules=MAP rebind.test 127.0.0.1'
      ]
    })
  })
  after(async () => {
    await browser?.close()
    await new Promise((resolve) => attacker?.close(resolve))
    node.child.kill('SIGINT')
    await new Promise((resolve) => node.child.once('exit', resolve))
    rmSync(work, { recursive: true, force: true })
  })

  /** The page on the attacker's site: every way in that a page has without the token. */
  function page (nodeUrl: string): string {
    // sed's e command would run touch, if the value ever reached sed (it must not even get a run)
    const evil = JSON.stringify({ pipeline: 'pipelines/sed-csv.yml', inputs: { data: 'QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR', find: `^/X/;1e touch ${marker};#` } })
    const split = evil.lastIndexOf('"')
    return `<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="POST" enctype="text/plain" target="sink" action="${nodeUrl}/api/v1/runs">
  <input name='${evil.slice(0, split)}' value='${evil.slice(split)}'>
</form>
<img src="${nodeUrl}/api/v1/runs?limit=1">
<script>
const report = (what) => fetch('/report', { method: 'POST', body: what })
async function tryAll () {
  document.getElementById('f').submit()
  const tries = [
    () => fetch('${nodeUrl}/api/v1/runs', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(evil)} }),
    () => fetch('${nodeUrl}/api/v1/messages/downloads', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"zip_path":"/etc/passwd","target":"q1"}' }),
    () => fetch('${nodeUrl}/api/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer guess' }, body: ${JSON.stringify(evil)} }),
    () => fetch('${nodeUrl}/api/v1/node')
  ]
  for (const [i, t] of tries.entries()) {
    try {
      const res = await t()
      await report('try ' + i + ': ' + res.type + ' ' + res.status + ' ' + (res.type === 'opaque' ? '' : await res.text()))
    } catch (err) {
      await report('try ' + i + ': refused ' + err.name)
    }
  }
  await report('done')
}
tryAll()
</script></body></html>`
  }

  async function runs (): Promise<unknown[]> {
    const res = await fetch(`${api.url}/api/v1/runs`, { headers: { authorization: `Bearer ${api.token}` } })
    assert.equal(res.status, 200)
    return await res.json() as unknown[]
  }

  it('a page on another site: its form, no-cors fetches and reads start nothing and read nothing', async () => {
    const tab = await browser.newPage()
    try {
      await tab.goto(site)
      await until(() => reports.includes('done'), 'the page to try every way in', 30_000)
    } finally {
      await tab.close()
    }
    // what a page can read: nothing (opaque answers, or the browser refused the request)
    const tries = reports.filter((r) => r.startsWith('try '))
    assert.equal(tries.length, 4, reports.join('\n'))
    for (const t of tries) assert.match(t, /: (opaque 0 |refused TypeError)$/, t)
    assert.deepEqual(await runs(), [], 'a run was started')
    assert.equal(existsSync(marker), false)
    assert.match(node.stderr(), /API http/)
    assert.equal(node.child.exitCode, null)
  })

  it('a page whose own name points at 127.0.0.1 (DNS rebinding) is refused by Host, and reads nothing', async () => {
    const port = new URL(api.url).port
    const tab = await browser.newPage()
    try {
      // the page, now on the node's address under its own name, is same-origin with it to the browser
      const landed = await tab.goto(`http://rebind.test:${port}/api/v1/node`)
      assert.equal(landed?.status(), 403)
      assert.match(await tab.content(), /Host 'rebind\.test:\d+' is not this node's address/)
      const tried = await tab.evaluate(async (body) => {
        const res = await fetch('/api/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer guess' }, body })
        return `${res.status} ${await res.text()}`
      }, JSON.stringify({ pipeline: 'hello' }))
      assert.match(tried, /^403 .*not this node's address/)
    } finally {
      await tab.close()
    }
    assert.deepEqual(await runs(), [])
    assert.equal(node.child.exitCode, null)
  })
})
