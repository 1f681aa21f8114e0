import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { bac, startBac } from '../helpers/cli.js'
import { ROOT } from '../helpers/paths.js'

const work = mkdtempSync(path.join(tmpdir(), 'bac-cli-serve-'))
after(() => rmSync(work, { recursive: true, force: true }))
const home = path.join(work, 'home')
const env = { BAC_HOME: home }
const project = path.join(work, 'project')
for (const dir of ['pipelines', 'jobstore', 'scripts']) cpSync(path.join(ROOT, dir), path.join(project, dir), { recursive: true })

const startUntil = async (args: string[], text: RegExp): ReturnType<typeof startBac> => await startBac(args, text, { cwd: project, env })

async function interrupt (child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  child.kill('SIGINT')
  return await exited
}

describe('bac serve, bac message send, bac watch', () => {
  it('says clearly when no node is serving, and what to do', async () => {
    // a port nothing listens on: one the system handed out and took back
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    await new Promise((resolve) => server.close(resolve))
    const r = bac(['message', 'send', 'downloads', '--field', 'zip_path=x'], { env, cwd: project })
    assert.equal(r.code, 2)
    assert.match(r.stderr, /no bac node is serving on .*home: messages go to a node serving pipelines with on.message; start one with bac serve \(or bac devstack\), or give --node <url>/)
    const down = bac(['message', 'send', 'downloads', '--field', 'a=b', '--node', `http://127.0.0.1:${port}`], { env, cwd: project })
    assert.equal(down.code, 1)
    assert.match(down.stderr, new RegExp(`no bac node answers at http://127.0.0.1:${port} \\(ECONNREFUSED\\)`))
    // $BAC_NODE names the node as --node does
    const named = bac(['message', 'send', 'downloads', '--field', 'a=b'], { env: { ...env, BAC_NODE: `http://127.0.0.1:${port}` }, cwd: project })
    assert.match(named.stderr, new RegExp(`no bac node answers at http://127.0.0.1:${port}`))
    const noFields = bac(['message', 'send', 'downloads'], { env, cwd: project })
    assert.equal(noFields.code, 2)
    assert.match(noFields.stderr, /--field name=value/)
  })

  it('refuses to watch a pipeline without on.watch', () => {
    const r = bac(['watch', 'pipelines/hello.yml'], { env, cwd: project })
    assert.equal(r.code, 2)
    assert.match(r.stderr, /hello.yml has no on.watch/)
  })

  it('runs the message-driven demo: serve, then message send (JSON and Arrow) --wait prints the result CID', async () => {
    const node = await startUntil(['serve', '--api', '127.0.0.1:0'], /API http:\/\/127.0.0.1:\d+/)
    try {
      const zip = path.join(project, 'pipelines', 'data', 'sales.zip')
      const json = bac(['message', 'send', 'downloads', '--field', `zip_path=${zip}`, '--field', 'target=q1', '--wait'], { env, cwd: project })
      assert.equal(json.code, 0, json.stderr)
      assert.match(json.stdout.trim(), /^Qm[1-9A-Za-z]{44}$/)
      const arrow = bac(['message', 'send', 'downloads', '--arrow', '--field', `zip_path=${zip}`, '--field', 'target=q1', '--wait'], { env, cwd: project })
      assert.equal(arrow.code, 0, arrow.stderr)
      assert.equal(arrow.stdout, json.stdout, 'the same message gives the same result')
      const bad = bac(['message', 'send', 'downloads', '--field', `zip_path=${zip}`, '--field', 'target=../up'], { env, cwd: project })
      assert.equal(bad.code, 1)
      assert.match(bad.stderr, /the node refused: row 0: field 'target' must match pattern/)
      const list = bac(['job', 'list'], { env, cwd: project })
      assert.equal(list.code, 0, list.stderr)
      assert.match(list.stdout, /downloads/)
      const [latest] = JSON.parse(bac(['job', 'list', '--json'], { env, cwd: project }).stdout) as Array<{ id: string }>
      const describe = bac(['job', 'describe', latest?.id ?? ''], { env, cwd: project })
      assert.match(describe.stdout, /trigger: {3}message \{"zip_path":".*sales.zip","target":"q1","group_by":null\}/)
    } finally {
      assert.equal(await interrupt(node.child), 0)
    }
    assert.match(node.stderr(), /topic downloads: 1 run queued/)
    assert.equal(existsSync(path.join(home, 'api.json')), false, 'the API address is removed when the node stops')
  })

  it('watches the demo drop folder: a zip dropped in runs once and is moved to processed/', async () => {
    const node = await startUntil(['watch', 'pipelines/sales-report.yml'], /watching drop/)
    try {
      const staged = path.join(project, 'staged.zip')
      copyFileSync(path.join(project, 'pipelines', 'data', 'sales.zip'), staged)
      await new Promise((resolve) => setTimeout(resolve, 20))
      renameSync(staged, path.join(project, 'drop', 'q1.zip'))
      const end = Date.now() + 20_000
      while (!existsSync(path.join(project, 'processed', 'q1.zip')) && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 50))
    } finally {
      assert.equal(await interrupt(node.child), 0)
    }
    assert.deepEqual(readdirSync(path.join(project, 'processed')), ['q1.zip'])
    assert.match(node.stderr(), /drop\/q1.zip taken \(Qm\w+\): run \w+ queued/)
    assert.match(node.stderr(), /run \w+ succeeded in .*, result Qm/)
  })

  it('bac watch --once runs the files already there, then exits (0 when all succeeded)', () => {
    const once = path.join(work, 'once')
    for (const dir of ['pipelines', 'jobstore', 'scripts']) cpSync(path.join(ROOT, dir), path.join(once, dir), { recursive: true })
    mkdirSync(path.join(once, 'drop'))
    copyFileSync(path.join(once, 'pipelines', 'data', 'sales.zip'), path.join(once, 'drop', 'a.zip'))
    copyFileSync(path.join(once, 'pipelines', 'data', 'sales.zip'), path.join(once, 'drop', 'b.zip'))
    writeFileSync(path.join(once, 'drop', 'broken.zip'), 'not a zip')
    const r = bac(['watch', 'pipelines/sales-report.yml', '--once', '--data-dir', path.join(work, 'once-data')], { env, cwd: once })
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /done: 1 run did not succeed/)
    assert.deepEqual(readdirSync(path.join(once, 'processed')).sort(), ['a.zip', 'b.zip'])
    assert.deepEqual(readdirSync(path.join(once, 'failed')), ['broken.zip'])
    const again = bac(['watch', 'pipelines/sales-report.yml', '--once', '--data-dir', path.join(work, 'once-data')], { env, cwd: once })
    assert.equal(again.code, 0, again.stderr)
    assert.doesNotMatch(again.stderr, /taken/)
  })
})
