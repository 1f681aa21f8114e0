import assert from 'node:assert/strict'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { chromium, type Browser, type Page } from 'playwright-core'
import { bac, startBac } from '../helpers/cli.js'
import { ROOT } from '../helpers/paths.js'

/** Debian's chromium (test setup installs it); no browser is downloaded. */
const CHROMIUM = '/usr/bin/chromium'

/** Where the screenshots of each page go (git-ignored). */
const SHOTS = path.join(ROOT, 'test-artifacts', 'dashboard')

/**
 * The dashboard in a real browser (headless Chromium) against a real `bac serve`: logged in by the
 * URL it prints, it shows a run that a message starts as it appears, its graph with the steps'
 * statuses, a step's logs, the result's files (viewed and downloaded), and cancels a running run.
 */
describe('the dashboard, in a real browser', { skip: existsSync(CHROMIUM) ? false : 'needs chromium (test setup installs it)' }, () => {
  const work = mkdtempSync(path.join(tmpdir(), 'bac-dashboard-'))
  const project = path.join(work, 'project')
  const home = path.join(work, 'home')
  const env = { BAC_HOME: home }
  let node: Awaited<ReturnType<typeof startBac>>
  let login = ''
  let url = ''
  let browser: Browser
  let page: Page

  before(async () => {
    for (const dir of ['pipelines', 'jobstore', 'scripts']) cpSync(path.join(ROOT, dir), path.join(project, dir), { recursive: true })
    writeFileSync(path.join(project, 'pipelines', 'slow.yml'), 'name: slow\non:\n  message:\n    topic: slow\nsteps:\n  wait:\n    run: sleep 120\n')
    node = await startBac(['serve', '--api', '127.0.0.1:0', '--port', '0'], /dashboard: http:\/\/127\.0\.0\.1:\d+\/#login=\S+/, { cwd: project, env })
    login = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/#login=\S+)/.exec(node.stderr())?.[1] ?? ''
    url = new URL(login).origin
    mkdirSync(SHOTS, { recursive: true })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
    })
    page = await (await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 800 } })).newPage()
  })
  after(async () => {
    await browser?.close()
    node?.child.kill('SIGTERM')
    rmSync(work, { recursive: true, force: true })
  })

  it('bac dashboard gives a login URL of the node the CLI would talk to (a new code, not the token), and says when none serves', () => {
    const printed = bac(['dashboard', '--print'], { env })
    assert.equal(printed.code, 0, printed.stderr)
    assert.match(printed.stdout.trim(), new RegExp(`^${url.replace(/[.]/g, '\\.')}/#login=[A-Za-z0-9_-]{32}$`))
    assert.notEqual(printed.stdout.trim(), login)
    const token = (JSON.parse(readFileSync(path.join(home, 'api.json'), 'utf8')) as { token: string }).token
    assert.equal(printed.stdout.includes(token) || node.stderr().includes(token), false, 'the token is printed nowhere')
    const none = bac(['dashboard', '--print'], { env: { BAC_HOME: path.join(work, 'no-node') } })
    assert.equal(none.code, 2)
    assert.match(none.stderr, /no bac node is serving on .*no-node; start one with bac serve \(it prints the dashboard's URL\), or give --node <url>/)
  })

  it('logs in once with the printed code, keeps the session in its origin\'s storage (no cookie), and the code then is spent', async () => {
    await page.goto(url)
    await page.getByRole('alert').filter({ hasText: 'Not logged in' }).waitFor()
    await page.goto(`${url}/#login=not-a-code-of-this-node`)
    await page.getByRole('alert').filter({ hasText: 'the login code is not good' }).waitFor()
    await page.goto(login)
    await page.getByRole('heading', { name: 'Runs' }).waitFor()
    await page.locator('table.runs').waitFor()
    assert.equal(page.url(), `${url}/#/`, 'the code leaves the address bar')
    assert.deepEqual(await page.context().cookies(url), [])
    assert.match(await page.evaluate<string>('localStorage.getItem("bac-session")'), /^[A-Za-z0-9_-]{43}$/)
    // the same URL again, in another browser: the code was good once
    const other = await browser.newContext()
    const again = await other.newPage()
    await again.goto(login)
    await again.getByRole('alert').filter({ hasText: 'the login code is not good' }).waitFor()
    await other.close()
  })

  it('shows a run a message starts as it appears, then its graph, statuses, logs and files', async () => {
    const sent = bac(['message', 'send', 'downloads', '--field', 'zip_path=data/sales.zip', '--field', 'target=q1'], { cwd: project, env })
    assert.equal(sent.code, 0, sent.stderr)
    const runId = sent.stdout.trim()
    // live: the page was open before the run existed, and is not reloaded
    const row = page.locator(`tr[data-run="${runId}"]`)
    await row.waitFor()
    await row.getByText('succeeded').waitFor()
    await page.screenshot({ path: path.join(SHOTS, 'runs.png') })
    await row.getByRole('link', { name: runId }).click()
    await page.locator('svg.graph g.step[data-step="aggregate"][data-status="succeeded"]').waitFor()
    assert.equal(await page.locator('svg.graph g.step[data-step="extract"]').getAttribute('data-status'), 'succeeded')
    assert.equal(await page.locator('svg.graph polyline.edge').count(), 1)
    await page.locator('svg.graph g.step[data-step="aggregate"]').click()
    await page.locator('pre.logs').getByText('summarised 2 file(s)').waitFor()
    // the result: a folder of the step, its merged outputs, a file shown and downloaded
    const files = page.locator('table.files')
    await files.getByRole('button', { name: 'aggregate/' }).click()
    await files.getByRole('button', { name: 'merged/' }).click()
    const summary = files.locator('tr[data-entry="summary.csv"]')
    await summary.getByRole('button', { name: 'summary.csv' }).click()
    await page.locator('pre.file').getByText('scope,name,column').waitFor()
    await page.screenshot({ path: path.join(SHOTS, 'run.png'), fullPage: true })
    const [download] = await Promise.all([page.waitForEvent('download'), summary.getByRole('button', { name: 'download' }).click()])
    const saved = path.join(work, 'downloaded.csv')
    await download.saveAs(saved)
    const cid = (JSON.parse(bac(['job', 'describe', runId, '--json'], { env }).stdout) as { resultCid: string }).resultCid
    assert.equal(readFileSync(saved, 'utf8'), bac(['ipfs', 'cat', `${cid}/aggregate/merged/summary.csv`], { env }).stdout)
  })

  it('cancels a running run from its page', async () => {
    const sent = bac(['message', 'send', 'slow', '--field', 'why=cancel'], { cwd: project, env })
    assert.equal(sent.code, 0, sent.stderr)
    const runId = sent.stdout.trim()
    await page.goto(`${url}/#/runs/${runId}`)
    await page.locator('svg.graph g.step[data-step="wait"][data-status="running"]').waitFor()
    await page.getByRole('button', { name: 'Cancel run' }).click()
    await page.locator('h1 .badge.cancelled').waitFor()
    assert.equal(JSON.parse(bac(['job', 'describe', runId, '--json'], { env }).stdout).status, 'cancelled')
  })

  it('shows this node, and each pipeline\'s triggers', async () => {
    await page.goto(`${url}/#/nodes`)
    await page.getByRole('heading', { name: 'Nodes' }).waitFor()
    await page.locator('main table tbody tr').getByText('this node').waitFor()
    await page.screenshot({ path: path.join(SHOTS, 'nodes.png') })
    await page.goto(`${url}/#/triggers`)
    const downloads = page.locator('main table tbody tr').filter({ hasText: 'downloads' })
    await downloads.getByText(/topic downloads: 1 runs/).waitFor()
    await page.locator('main table tbody tr').filter({ hasText: 'sales-report' }).getByText(/drop: 0 taken/).waitFor()
    await page.screenshot({ path: path.join(SHOTS, 'triggers.png') })
  })

  it('is usable at 375 px wide', async () => {
    const narrow = await page.context().newPage()
    await narrow.setViewportSize({ width: 375, height: 700 })
    await narrow.goto(`${url}/`)
    await narrow.getByRole('heading', { name: 'Runs' }).waitFor()
    // nothing but the runs table (which scrolls in its own box) is wider than the screen
    const wide = await narrow.evaluate<number>('document.documentElement.scrollWidth')
    assert.ok(wide <= 375, `the page is ${wide} px wide`)
    await narrow.screenshot({ path: path.join(SHOTS, 'runs-375.png') })
    await narrow.close()
  })

  it('gives a session what the dashboard does (look, cancel), not runs; a download link one path for a minute; a cookie nothing', async () => {
    const session = await page.evaluate<string>('localStorage.getItem("bac-session")')
    const as = { authorization: `Bearer ${session}` }
    assert.equal((await fetch(`${url}/api/v1/runs`, { headers: as })).status, 200)
    const start = await fetch(`${url}/api/v1/runs`, { method: 'POST', headers: { ...as, 'content-type': 'application/json' }, body: JSON.stringify({ job: { command: 'true' } }) })
    assert.equal(start.status, 403)
    assert.equal((await fetch(`${url}/api/v1/login-codes`, { method: 'POST', headers: as })).status, 403)
    assert.equal((await fetch(`${url}/api/v1/runs`, { headers: { cookie: `bac_token=${session}`, 'sec-fetch-site': 'same-origin' } })).status, 401)
    const run = (await (await fetch(`${url}/api/v1/runs?limit=20`, { headers: as })).json() as Array<{ resultCid?: string }>).find((r) => r.resultCid !== undefined)
    const ticket = await (await fetch(`${url}/api/v1/tickets?path=${encodeURIComponent(`content/${run?.resultCid ?? ''}`)}`, { headers: as })).json() as { url: string }
    assert.equal((await fetch(`${url}${ticket.url}`)).status, 200)
    assert.equal((await fetch(`${url}${ticket.url.replace('/content/', '/files/')}`)).status, 401, 'the link is for its own path only')
    const shell = await fetch(`${url}/`)
    assert.match(shell.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/)
    assert.equal(shell.headers.get('x-frame-options'), 'DENY')
  })
})
