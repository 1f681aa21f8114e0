import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CarWriter } from '@ipld/car'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { bacAsync } from '../helpers/cli.js'
import { BAC_BIN } from '../helpers/paths.js'

/** A dag-pb block of a UnixFS node, with its CIDv0. */
async function block (data: UnixFS, links: dagPb.PBLink[] = []): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = dagPb.encode(dagPb.prepare({ Data: data.marshal(), Links: links }))
  return { cid: CID.createV0(await sha256.digest(bytes)), bytes }
}

/** A CAR v1 of `blocks`, rooted at the first. */
async function car (blocks: Array<{ cid: CID, bytes: Uint8Array }>, root = blocks[0]?.cid): Promise<Buffer> {
  const { writer, out } = CarWriter.create(root === undefined ? [] : [root])
  const chunks: Uint8Array[] = []
  const reading = (async () => { for await (const c of out) chunks.push(c) })()
  for (const b of blocks) await writer.put(b)
  await writer.close()
  await reading
  return Buffer.concat(chunks)
}

/**
 * A node that lies: it answers as a bac node's API would, with run ids that are paths and DAGs
 * whose names climb out. `bac job get` and `bac run --node` must refuse, clearly, and write
 * nothing outside the folder they were asked to write.
 */
describe('the CLI against a hostile node: no name from a server is trusted', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'bac-hostile-node-'))
  const cwd = path.join(work, 'a', 'b', 'c')
  mkdirSync(cwd, { recursive: true })
  let server: Server
  let url = ''
  const answers = new Map<string, { status?: number, type?: string, body: string | Buffer }>()

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/api/v1/runs/long') {
        // an answer far longer than any a bac node gives (128 MiB; a hostile node need never end it)
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write('{"id":"')
        const piece = 'a'.repeat(1024 * 1024)
        let sent = 0
        const more = (): void => {
          while (sent < 128) {
            sent++
            if (!res.write(piece)) return
          }
          res.end()
        }
        res.on('drain', more)
        res.on('close', () => { sent = 128 })
        more()
        return
      }
      const answer = answers.get(`${req.method ?? 'GET'} ${req.url ?? ''}`) ?? { status: 404, body: '{"error":"no such thing"}' }
      res.writeHead(answer.status ?? 200, { 'content-type': answer.type ?? 'application/json' })
      res.end(answer.body)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    rmSync(work, { recursive: true, force: true })
  })

  /** Every file and folder under the work folder, but the CLI's home. */
  const tree = (): string[] => (readdirSync(work, { recursive: true }) as string[]).filter((f) => !f.startsWith('home')).sort()
  const run = async (args: string[]): ReturnType<typeof bacAsync> => await bacAsync([...args, '--node', url, '--token', 'x'.repeat(40)], { cwd, env: { BAC_HOME: path.join(work, 'home') } })

  it('refuses a run id that is a path, absolute or relative, and writes nothing', async () => {
    const file = await block(new UnixFS({ type: 'file', data: Buffer.from('x') }))
    answers.set(`GET /api/v1/content/${file.cid.toString()}`, { type: 'application/vnd.ipld.car', body: await car([file]) })
    const before = tree()
    for (const id of ['../../../escaped', '/tmp/bac-hostile-abs', '..', '.', 'a/b', 'x\u0000y', '-rf', '']) {
      answers.set('GET /api/v1/runs/abc', { body: JSON.stringify({ id, status: 'succeeded', resultCid: file.cid.toString(), steps: [], executions: [] }) })
      const r = await run(['job', 'get', 'abc'])
      assert.equal(r.code, 1, `${JSON.stringify(id)}: ${r.stderr}`)
      assert.match(r.stderr, /the node's answer: names the run .*, which is not a run id; nothing was written/)
      assert.doesNotMatch(r.stderr, /internal error|bug in bac/)
    }
    assert.deepEqual(tree(), before)
    assert.equal(existsSync('/tmp/bac-hostile-abs'), false)
  })

  it('refuses a result that is not a CID, or a CAR rooted elsewhere', async () => {
    const file = await block(new UnixFS({ type: 'file', data: Buffer.from('x') }))
    const other = await block(new UnixFS({ type: 'file', data: Buffer.from('y') }))
    answers.set('GET /api/v1/runs/abc', { body: JSON.stringify({ id: 'abcdef012345', status: 'succeeded', resultCid: { $gt: '' }, steps: [] }) })
    let r = await run(['job', 'get', 'abc'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /is not a run as a bac node gives it; nothing was done with it/)
    answers.set('GET /api/v1/runs/abc', { body: JSON.stringify({ id: 'abcdef012345', status: 'succeeded', resultCid: '../../etc', steps: [] }) })
    r = await run(['job', 'get', 'abc'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /is not a valid CID/)
    answers.set('GET /api/v1/runs/abc', { body: JSON.stringify({ id: 'abcdef012345', status: 'succeeded', resultCid: file.cid.toString(), steps: [] }) })
    answers.set(`GET /api/v1/content/${file.cid.toString()}`, { type: 'application/vnd.ipld.car', body: await car([other]) })
    r = await run(['job', 'get', 'abc'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /is rooted at .*, not at/)
    answers.set(`GET /api/v1/content/${file.cid.toString()}`, { type: 'application/vnd.ipld.car', body: Buffer.from('not a car at all') })
    r = await run(['job', 'get', 'abc'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /is not a CAR v1 stream/)
    assert.equal(existsSync(path.join(cwd, 'abcdef012345')), false)
  })

  it('refuses a result DAG whose names climb out, and leaves nothing at the target', async () => {
    const leaf = await block(new UnixFS({ type: 'file', data: Buffer.from('planted\n') }))
    for (const name of ['..', '../../planted', '/tmp/bac-planted', 'a\u0000b']) {
      const folder = await block(new UnixFS({ type: 'directory' }), [{ Name: name, Hash: leaf.cid, Tsize: leaf.bytes.length }])
      answers.set('GET /api/v1/runs/abc', { body: JSON.stringify({ id: 'abcdef012345', status: 'succeeded', resultCid: folder.cid.toString(), steps: [] }) })
      answers.set(`GET /api/v1/content/${folder.cid.toString()}`, { type: 'application/vnd.ipld.car', body: await car([folder, leaf]) })
      const r = await run(['job', 'get', 'abc', 'out'])
      assert.equal(r.code, 1, `${JSON.stringify(name)}: ${r.stderr}`)
      assert.match(r.stderr, /holds an entry named .*; bac writes only plain names, so nothing was written/)
      assert.doesNotMatch(r.stderr, /internal error|bug in bac/)
      assert.equal(existsSync(path.join(cwd, 'out')), false)
    }
    assert.equal(existsSync(path.join(work, 'a', 'planted')), false)
    assert.equal(existsSync('/tmp/bac-planted'), false)
  })

  it('bac run --node refuses a run id that is a path before it writes anything', async () => {
    const file = path.join(cwd, 'p.yml')
    writeFileSync(file, 'name: p\nsteps:\n  a:\n    run: "true"\n')
    answers.set('POST /api/v1/runs', { status: 202, body: JSON.stringify({ runId: '../../../escaped' }) })
    const before = tree()
    const r = await run(['run', 'p.yml'])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /names the run "..\/..\/..\/escaped", which is not a run id/)
    assert.deepEqual(tree(), before)
  })

  it('job list and describe: a node\'s fields carry no terminal escape to the screen', async () => {
    const esc = '\u001b]0;owned\u0007\u001b[2J\u001b[32mall good\u001b[0m'
    answers.set('GET /api/v1/runs?limit=20', { body: JSON.stringify([{ id: 'abc', summary: `x${esc}`, data: [], status: esc, createdAt: 0 }]) })
    answers.set('GET /api/v1/runs/esc', {
      body: JSON.stringify({
        id: 'esc',
        status: 'succeeded',
        pipeline: esc,
        pipelineFile: esc,
        trigger: { kind: esc },
        inputs: {},
        steps: [{ stepId: esc, status: 'succeeded' }],
        executions: []
      })
    })
    for (const args of [['job', 'list'], ['job', 'describe', 'esc']]) {
      const r = await run(args)
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
      assert.equal(r.stdout.includes('\u001b') || r.stdout.includes('\u0007'), false, `${args.join(' ')} printed the node's escape sequences: ${JSON.stringify(r.stdout.slice(0, 200))}`)
      assert.match(r.stdout, /all good/)
    }
  })

  it('job list and describe: an answer that is not runs is refused in one line', async () => {
    answers.set('GET /api/v1/runs?limit=20', { body: JSON.stringify([{ id: 7, status: null }]) })
    answers.set('GET /api/v1/runs/odd', { body: JSON.stringify({ id: 'odd', status: 'succeeded', steps: 'none' }) })
    for (const args of [['job', 'list'], ['job', 'describe', 'odd']]) {
      const r = await run(args)
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, /is not a run as a bac node gives it/)
      assert.doesNotMatch(r.stderr, /internal error|bug in bac|TypeError/)
    }
  })

  it('job describe: an answer longer than any a node gives is not read whole', { skip: !existsSync('/usr/bin/time') ? 'needs /usr/bin/time' : false }, async () => {
    const child = spawn('/usr/bin/time', ['-f', 'peak %M KB', process.execPath, BAC_BIN, 'job', 'describe', 'long', '--node', url, '--token', 'x'.repeat(40)], {
      cwd,
      env: { ...process.env, BAC_HOME: path.join(work, 'home'), NO_COLOR: '1' },
      stdio: ['ignore', 'ignore', 'pipe']
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const code = await new Promise((resolve) => child.once('close', resolve))
    const peak = Number(/peak (\d+) KB/.exec(stderr)?.[1] ?? NaN)
    assert.equal(code, 1, stderr)
    assert.match(stderr, /sent an answer over \d+ bytes; a bac node does not/)
    // a fresh bac takes about 70 MiB; the answer is cut at 32 MiB, where reading it whole took 128 MiB more
    assert.ok(peak < 160 * 1024, `the CLI took ${Math.round(peak / 1024)} MiB for one answer of a node: ${stderr.split('\n')[0] ?? ''}`)
  })
})
