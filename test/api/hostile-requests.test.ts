import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startBac } from '../helpers/cli.js'
import { ROOT } from '../helpers/paths.js'
import { until } from '../helpers/until.js'

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/**
 * One HTTP request, every header as given (a browser's Host, Origin, a form's content type),
 * with no client in between that would fix them. Resolves with what the node answered, or with
 * status 0 when the connection was closed without an answer.
 */
async function raw (url: string, options: { method?: string, path: string, headers?: Record<string, string>, body?: string | Buffer }): Promise<Answer> {
  const target = new URL(options.path, url)
  return await new Promise((resolve, reject) => {
    const req = request({
      host: target.hostname,
      port: target.port,
      path: `${target.pathname}${target.search}`,
      method: options.method ?? 'GET',
      headers: options.headers ?? {},
      setHost: options.headers?.host === undefined,
      timeout: 30_000
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }) })
      res.on('error', reject)
    })
    req.on('timeout', () => { req.destroy(new Error(`no answer to ${options.method ?? 'GET'} ${options.path} within 30 s`)) })
    req.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'ECONNRESET' || err.code === 'EPIPE') resolve({ status: 0, headers: {}, body: '' }); else reject(err) })
    req.end(options.body)
  })
}

const error = (a: Answer): string => (JSON.parse(a.body) as { error: string }).error

describe('bac serve under hostile requests: nothing gets past what the node allows, and it stays up', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'bac-api-hostile-'))
  const project = path.join(work, 'project')
  const home = path.join(work, 'home')
  let node: Awaited<ReturnType<typeof startBac>>
  let url = ''
  let token = ''
  let port = ''
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${token}` })
  const json = (body: unknown): { headers: Record<string, string>, body: string } => ({ headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const runCount = (): number => existsSync(path.join(home, 'runs')) ? readdirSync(path.join(home, 'runs')).length : 0

  before(async () => {
    for (const dir of ['pipelines', 'jobstore', 'scripts']) cpSync(path.join(ROOT, dir), path.join(project, dir), { recursive: true })
    writeFileSync(path.join(project, 'pipelines', 'slow.yml'), `name: slow
on:
  message: { topic: slow }
steps:
  wait:
    run: |
      echo $$ > ${path.join(project, 'slow.pid')}
      sleep 600
`)
    // one run of a pipeline at a time: a second message waits, queued
    node = await startBac(['serve', '--api', '127.0.0.1:0', '--port', '0', '-c', '1'], /API http:\/\/127\.0\.0\.1:\d+/, { cwd: project, env: { BAC_HOME: home } })
    const api = JSON.parse(readFileSync(path.join(home, 'api.json'), 'utf8')) as { url: string, token: string }
    url = api.url
    token = api.token
    port = new URL(url).port
  })
  after(async () => {
    node.child.kill('SIGINT')
    await new Promise((resolve) => node.child.once('exit', resolve))
    rmSync(work, { recursive: true, force: true })
  })

  /** The node still answers its own client, as it must after every hostile request. */
  async function stillUp (): Promise<void> {
    const answer = await raw(url, { path: '/api/v1/node', headers: auth() })
    assert.equal(answer.status, 200, `the node stopped answering: ${answer.body}`)
    assert.equal(node.child.exitCode, null, `the node exited:\n${node.stderr()}`)
  }

  it('keeps its token in api.json, readable by its own user only', () => {
    assert.equal(statSync(path.join(home, 'api.json')).mode & 0o777, 0o600)
    assert.ok(token.length >= 43, token)
  })

  it('answers 401 to a request without the token, or with another', async () => {
    const none = await raw(url, { path: '/api/v1/runs' })
    assert.equal(none.status, 401)
    assert.match(error(none), /needs its token/)
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="bac"')
    const wrong = await raw(url, { path: '/api/v1/runs', headers: { authorization: `Bearer ${'x'.repeat(token.length)}` } })
    assert.equal(wrong.status, 401)
    const started = await raw(url, { method: 'POST', path: '/api/v1/runs', headers: { 'content-type': 'application/json' }, body: '{"pipeline":"hello"}' })
    assert.equal(started.status, 401)
    assert.equal(runCount(), 0)
    await stillUp()
  })

  it('refuses a web page\'s form POST: another origin, a text/plain body, no CORS', async () => {
    // what <form method=post enctype=text/plain action=http://127.0.0.1:port/api/v1/runs> sends
    const form = await raw(url, {
      method: 'POST',
      path: '/api/v1/runs',
      headers: { origin: 'http://evil.example', 'content-type': 'text/plain', 'sec-fetch-site': 'cross-site' },
      body: '{"pipeline":"sed-csv","ignore":"="}'
    })
    assert.equal(form.status, 403)
    assert.match(error(form), /web page/)
    // even with the token (a page cannot have it), another origin is refused
    const withToken = await raw(url, { method: 'POST', path: '/api/v1/runs', headers: { ...json({}).headers, origin: `http://localhost:${Number(port) + 1}` }, body: '{"pipeline":"hello"}' })
    assert.equal(withToken.status, 403)
    // a program with the token but a form's content type: 415
    const plain = await raw(url, { method: 'POST', path: '/api/v1/runs', headers: { ...auth(), 'content-type': 'text/plain' }, body: '{"pipeline":"hello"}' })
    assert.equal(plain.status, 415)
    // a CORS preflight gets no CORS header: browsers keep pages from reading or sending
    const preflight = await raw(url, { method: 'OPTIONS', path: '/api/v1/runs', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } })
    assert.notEqual(preflight.status, 200)
    assert.equal(preflight.headers['access-control-allow-origin'], undefined)
    assert.equal(runCount(), 0)
    await stillUp()
  })

  it('refuses a Host that is not its own (DNS rebinding), even with the token', async () => {
    for (const host of [`evil.example:${port}`, `127.0.0.1.evil.example:${port}`, `127.0.0.1:${Number(port) + 1}`, 'localhost']) {
      const answer = await raw(url, { path: '/api/v1/node', headers: { ...auth(), host } })
      assert.equal(answer.status, 403, host)
      assert.match(error(answer), /not this node's address/)
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) assert.equal((await raw(url, { path: '/api/v1/node', headers: { ...auth(), host } })).status, 200, host)
    await stillUp()
  })

  it('runs only pipelines it serves or is sent, with paths in the folders it allows', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ pipeline: '/dev/zero' }, /is not under this node's pipelines folders/],
      [{ pipeline: '/etc/passwd' }, /is not under this node's pipelines folders/],
      [{ pipeline: 'hello', cwd: '/etc' }, /cwd: \/etc is outside the folders this node allows .*--allow-path \/etc/],
      [{ pipeline: 'hello', outputsDir: '/tmp/bac-elsewhere' }, /outputsDir: .* is outside the folders this node allows/],
      [{ pipeline: 'sales-report', inputs: { archive: '/etc/shadow' } }, /input 'archive': \/etc\/shadow is outside the folders this node allows \(.*\); start the node with --allow-path \/etc/],
      [{ text: 'name: x\nsteps:\n  a:\n    run: "true"\n', file: '/etc/x.yml' }, /file: \/etc\/x.yml is outside the folders this node allows/],
      [{ text: 'name: x\ninputs:\n  f: { type: file, default: /etc/shadow }\nsteps:\n  a:\n    run: cat {{ inputs.f.path }}\n' }, /input 'f': \/etc\/shadow is outside/],
      // what the validator reads for a pipeline sent is confined too: nothing of the file comes back
      [{ text: 'name: x\non:\n  message: { topic: t, schema: /etc/passwd }\nsteps:\n  a:\n    run: "true"\n' }, /3:\d+ .*\/etc\/passwd is outside the folders this node allows/],
      [{ text: 'name: x\nsteps:\n  a:\n    uses: /etc/passwd\n' }, /4:\d+ .*\/etc\/passwd is outside the folders this node allows/],
      // hidden files in an allowed folder are not allowed: a repository's .git, an .env of secrets
      [{ pipeline: 'sales-report', inputs: { archive: path.join(project, '.env') } }, /input 'archive': .*\.env is not allowed: a hidden file or folder/],
      [{ pipeline: 'sales-report', inputs: { archive: path.join(project, '.git', 'config') } }, /input 'archive': .*\.git\/config is not allowed: a hidden file or folder/],
      [{ pipeline: 'hello', concurrency: 0 }, /concurrency must be a whole number from 1/],
      [{ pipeline: 'hello', concurrency: 1e308 }, /concurrency must be a whole number from 1/],
      [{ pipeline: 'hello', inputs: { who: { $ne: 1 } } }, /inputs must be an object of strings/],
      [{ pipeline: 'hello', sneaky: true }, /unknown field 'sneaky'/],
      [[1, 2], /must be a JSON object/],
      [{ pipeline: 'nosuch' }, /no pipeline named 'nosuch' is served here/]
    ]
    mkdirSync(path.join(project, '.git'), { recursive: true })
    writeFileSync(path.join(project, '.git', 'config'), '[remote "origin"]\n\turl = https://root:secret@example.com/x\n')
    writeFileSync(path.join(project, '.env'), 'root:TOKEN=secret\n')
    for (const [body, message] of cases) {
      const answer = await raw(url, { method: 'POST', path: '/api/v1/runs', ...json(body) })
      assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${answer.body}`)
      assert.match(error(answer), message)
      assert.doesNotMatch(answer.body, /root:/, 'a file outside came back in the answer')
    }
    // a pipeline sent as text may use the node's job templates (in its project folder)
    const text = readFileSync(path.join(project, 'pipelines', 'sales-report.yml'), 'utf8').replace('name: sales-report', 'name: sent')
    const sent = await raw(url, { method: 'POST', path: '/api/v1/runs', ...json({ text }) })
    assert.equal(sent.status, 202, sent.body)
    assert.equal(runCount(), 0)
    // a pipeline it serves, by name, runs
    const ok = await raw(url, { method: 'POST', path: '/api/v1/runs', ...json({ pipeline: 'hello', inputs: { who: 'api' } }) })
    assert.equal(ok.status, 202, ok.body)
    await stillUp()
  })

  it('never opens a FIFO or a device as a file: pipeline, input and message field (one clear 400, no hang)', async () => {
    execFileSync('mkfifo', [path.join(project, 'pipelines', 'fifo.yml'), path.join(project, 'in.fifo')])
    symlinkSync('/dev/zero', path.join(project, 'pipelines', 'zero.yml'))
    const cases: Array<[string, unknown, RegExp]> = [
      ['/api/v1/runs', { pipeline: 'pipelines/fifo.yml' }, /fifo.yml is a FIFO \(named pipe\), not a regular file/],
      ['/api/v1/runs', { pipeline: 'pipelines/zero.yml' }, /zero.yml \(\/dev\/zero\) is not under this node's pipelines folders/],
      ['/api/v1/runs', { pipeline: 'sales-report', inputs: { archive: path.join(project, 'in.fifo') } }, /input 'archive': .*in.fifo is a FIFO/],
      ['/api/v1/messages/downloads', { zip_path: path.join(project, 'in.fifo'), target: 'q1' }, /row 0: input 'archive': .*in.fifo is a FIFO/],
      ['/api/v1/messages/downloads', { zip_path: '/dev/zero', target: 'q1' }, /row 0: input 'archive': \/dev\/zero is outside the folders this node allows/]
    ]
    for (const [where, body, message] of cases) {
      const answer = await raw(url, { method: 'POST', path: where, ...json(body) })
      assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${answer.body}`)
      assert.match(error(answer), message)
    }
    await stillUp()
  })

  it('answers malformed requests with a 4xx, never a 500', async () => {
    const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`
    const cases: Array<[{ method?: string, path: string, headers?: Record<string, string>, body?: string }, number, RegExp]> = [
      [{ method: 'POST', path: '/api/v1/runs', headers: { ...auth(), 'content-type': 'application/json' }, body: deep }, 400, /nests objects or arrays deeper than 64 levels/],
      [{ method: 'POST', path: '/api/v1/runs', headers: { ...auth(), 'content-type': 'application/json' }, body: '{"a":'.repeat(100_000) }, 400, /deeper than 64 levels/],
      [{ method: 'POST', path: '/api/v1/messages/downloads', headers: { ...auth(), 'content-type': 'application/json' }, body: deep }, 400, /deeper than 64 levels/],
      [{ method: 'POST', path: '/api/v1/messages/downloads', headers: { ...auth(), 'content-type': 'application/x-ndjson' }, body: `{"zip_path":"x"}\n${deep}\n` }, 400, /line 2 nests objects/],
      [{ method: 'POST', path: '/api/v1/messages/downloads', headers: { ...auth(), 'content-type': 'application/json' }, body: '{"zip_path":"\udcff\u0000"' }, 400, /not JSON/],
      [{ method: 'POST', path: '/api/v1/runs', headers: { ...auth(), 'content-type': 'application/json' }, body: 'not json' }, 400, /the body is not JSON/],
      [{ path: '/api/v1/runs/%E0%A4%A', headers: auth() }, 400, /malformed %-escape/],
      [{ path: '/api/v1/runs/%2e%2e%2fetc', headers: auth() }, 400, /is not a run id/],
      [{ path: '/api/v1/runs?limit=1e308', headers: auth() }, 400, /limit must be a whole number from 1 to 1000/],
      [{ path: '/api/v1/runs?limit=-1', headers: auth() }, 400, /limit must be/],
      [{ path: '/api/v1/runs?before=../x', headers: auth() }, 400, /is not a run id/],
      [{ path: '/api/v1/runs?cid=../x', headers: auth() }, 400, /'..\/x' is not a CID/],
      [{ path: `/api/v1/runs?cid=QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR/a`, headers: auth() }, 400, /is not a CID/],
      [{ path: '/api/v1/content/not-a-cid', headers: auth() }, 400, /is not a valid CID/],
      [{ path: '/api/v1/content/QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR', headers: auth() }, 404, /not found/],
      [{ method: 'POST', path: '/api/v1/runs/ffffffffffff/cancel', headers: auth() }, 404, /no run has this id/],
      [{ method: 'DELETE', path: '/api/v1/node', headers: auth() }, 405, /use GET/]
    ]
    for (const [req, status, message] of cases) {
      const answer = await raw(url, req)
      assert.equal(answer.status, status, `${req.method ?? 'GET'} ${req.path.slice(0, 60)}: ${answer.body.slice(0, 300)}`)
      assert.match(error(answer), message)
    }
    // invalid UTF-8 in a JSON body is the sender's mistake too
    const bad = await raw(url, {
      method: 'POST',
      path: '/api/v1/messages/downloads',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])
    })
    assert.equal(bad.status, 400)
    assert.match(error(bad), /not UTF-8/)
    await stillUp()
  })

  it('answers hostile requests to the dashboard\'s endpoints with a 4xx: logins, download links, folders, its files', async () => {
    const missing = 'QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR'
    const cases: Array<[{ method?: string, path: string, headers?: Record<string, string>, body?: string }, number, RegExp]> = [
      // a login needs no token, so it is checked most: a form, a body that is not one, codes that are not
      [{ method: 'POST', path: '/api/v1/session', headers: { origin: 'http://evil.example', 'content-type': 'text/plain' }, body: 'code=x' }, 403, /is refused/],
      [{ method: 'POST', path: '/api/v1/session', headers: { 'content-type': 'text/plain' }, body: '{"code":"x"}' }, 415, /as application\/json/],
      [{ method: 'POST', path: '/api/v1/session', headers: { 'content-type': 'application/json' }, body: 'not json' }, 400, /not JSON/],
      [{ method: 'POST', path: '/api/v1/session', headers: { 'content-type': 'application/json' }, body: '{"code":5}' }, 401, /login code is not good/],
      [{ method: 'POST', path: '/api/v1/session', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'x'.repeat(5000) }) }, 413, /at most 4096/],
      [{ method: 'GET', path: '/api/v1/session' }, 405, /use POST/],
      [{ method: 'POST', path: '/api/v1/login-codes' }, 401, /needs its token/],
      // download links name one content path, nothing else
      [{ path: `/api/v1/tickets?path=${encodeURIComponent('files/../../etc/passwd')}`, headers: auth() }, 400, /path must be files/],
      [{ path: `/api/v1/tickets?path=${encodeURIComponent('runs/x/cancel')}`, headers: auth() }, 400, /path must be files/],
      [{ path: `/api/v1/files/${missing}?ticket=1.${'A'.repeat(43)}` }, 401, /download link has expired or is for another path/],
      [{ path: `/api/v1/runs?ticket=${'9'.repeat(15)}.${'A'.repeat(43)}` }, 401, /download link/],
      [{ path: '/api/v1/files/not-a-cid', headers: auth() }, 400, /is not a valid CID/],
      // a '..' never reaches the store: the path is resolved as a URL first, and what is left is no CID
      [{ path: `/api/v1/files/${missing}/%2e%2e/x`, headers: auth() }, 400, /'x' is not a valid CID/],
      [{ path: `/api/v1/files/${missing}`, headers: auth() }, 404, /not found/],
      // the page's own files, by name only; the old cookie login is gone
      [{ path: '/assets/..%2f..%2fapi.json' }, 404, /no such page/],
      [{ path: '/login?token=x' }, 404, /no such page/],
      [{ method: 'POST', path: '/' }, 405, /use GET/]
    ]
    for (const [req, status, message] of cases) {
      const answer = await raw(url, req)
      assert.equal(answer.status, status, `${req.method ?? 'GET'} ${req.path.slice(0, 80)}: ${answer.body.slice(0, 300)}`)
      assert.match(error(answer), message)
    }
    await stillUp()
  })

  it('bounds the bodies it holds: a body over the limit is 413, many large ones at once are told to wait (503)', async (t) => {
    const over = await raw(url, { method: 'POST', path: '/api/v1/messages/downloads', headers: { ...auth(), 'content-type': 'application/json', 'content-length': String(65 * 1024 * 1024) } })
    assert.equal(over.status, 413)
    // 16 bodies of 62 MB at once: more than the node holds together (192 MiB)
    const big = Buffer.alloc(62 * 1024 * 1024, 0x20)
    big[big.length - 1] = 0x78 // not JSON: each answer is a 400 once the body is read
    const answers = await Promise.all(Array.from({ length: 16 }, async () => await raw(url, {
      method: 'POST',
      path: '/api/v1/messages/downloads',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: big
    })))
    const statuses = answers.map((a) => a.status)
    assert.ok(statuses.every((s) => s === 400 || s === 503), statuses.join(' '))
    assert.ok(statuses.includes(503), `no body was told to wait: ${statuses.join(' ')}`)
    assert.ok(statuses.includes(400), `no body was read: ${statuses.join(' ')}`)
    const waited = answers.find((a) => a.status === 503)
    assert.equal(waited?.headers['retry-after'], '1')
    const status = readFileSync(`/proc/${node.child.pid ?? 0}/status`, 'utf8')
    const peak = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
    t.diagnostic(`the node's peak RSS while 16 × 62 MB bodies came in: ${peak.toFixed(0)} MB`)
    // it held at most 192 MiB of bodies at once; 16 held at once would be 1 GB
    assert.ok(peak < 550, `the node peaked at ${peak.toFixed(0)} MB while 16 × 62 MB bodies came in`)
    await stillUp()
  })

  it('cancels runs started by messages, running or still waiting; a cancelled run is not taken up again at the next start', async () => {
    const send = async (): Promise<string> => {
      const sent = await raw(url, { method: 'POST', path: '/api/v1/messages/slow', ...json({ n: 1 }) })
      assert.equal(sent.status, 202, sent.body)
      return (JSON.parse(sent.body) as { runs: Array<{ id: string }> }).runs[0]?.id ?? ''
    }
    const statusOf = async (id: string): Promise<string> => (JSON.parse((await raw(url, { path: `/api/v1/runs/${id}`, headers: auth() })).body) as { status: string }).status
    const running = await send()
    const waiting = await send()
    // one run of a pipeline at a time (-c 1): the first runs its step, the second waits
    await until(async () => existsSync(path.join(project, 'slow.pid')), 'the first run\'s step to start')
    assert.equal(await statusOf(waiting), 'queued')
    const pid = Number(readFileSync(path.join(project, 'slow.pid'), 'utf8'))
    for (const id of [waiting, running]) {
      const answer = await raw(url, { method: 'POST', path: `/api/v1/runs/${id}/cancel`, headers: auth() })
      assert.equal(answer.status, 202, answer.body)
      assert.equal((JSON.parse(answer.body) as { cancelling: string }).cancelling, id)
    }
    await until(async () => await statusOf(running) === 'cancelled', 'the running run to end cancelled')
    assert.equal(await statusOf(waiting), 'cancelled')
    await until(() => { try { process.kill(pid, 0); return false } catch { return true } }, 'the step\'s process to be killed')
    const again = await raw(url, { method: 'POST', path: `/api/v1/runs/${running}/cancel`, headers: auth() })
    assert.equal(again.status, 409)
    assert.match(error(again), /is cancelled: it is neither running nor waiting/)
    // the next node on this data dir starts neither
    node.child.kill('SIGINT')
    await new Promise((resolve) => node.child.once('exit', resolve))
    rmSync(path.join(project, 'slow.pid'))
    node = await startBac(['serve', '--api', '127.0.0.1:0', '--port', '0', '-c', '1'], /API http:\/\/127\.0\.0\.1:\d+/, { cwd: project, env: { BAC_HOME: home } })
    url = (JSON.parse(readFileSync(path.join(home, 'api.json'), 'utf8')) as { url: string }).url
    token = (JSON.parse(readFileSync(path.join(home, 'api.json'), 'utf8')) as { token: string }).token
    const marker = await send()
    await until(async () => await statusOf(marker) === 'running' && existsSync(path.join(project, 'slow.pid')), 'a new run to start')
    assert.equal(await statusOf(running), 'cancelled')
    assert.equal(await statusOf(waiting), 'cancelled')
    await raw(url, { method: 'POST', path: `/api/v1/runs/${marker}/cancel`, headers: auth() })
    await stillUp()
  })
})
