import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { makeData, makeVector, Null, Table, tableToIPC } from 'apache-arrow'
import { startBac } from '../helpers/cli.js'
import { until } from '../helpers/until.js'

/**
 * Found by a security review (each test failed before its fix). What a message sender (a row of fields, nothing more) can
 * make a node do.
 */
describe('a message sender gets no more than its fields', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'bac-review-messages-'))
  const project = path.join(work, 'project')
  // made by bac itself, as ~/.bac is
  const home = path.join(work, 'home', '.bac')
  let node: Awaited<ReturnType<typeof startBac>>
  let url = ''
  let token = ''

  before(async () => {
    mkdirSync(path.join(project, 'pipelines'), { recursive: true })
    mkdirSync(path.join(project, 'jobstore'))
    writeFileSync(path.join(project, 'pipelines', 'note.txt'), 'a file the node allows\n')
    // quotes around a template: the validator warns (template/quoted), the node serves it
    writeFileSync(path.join(project, 'pipelines', 'greet.yml'), `name: greet
on:
  message:
    topic: greet
    schema:
      type: object
      properties:
        who: { type: string }
        f: { type: string }
inputs:
  who:
    type: string
    default: "{{ trigger.message.who }}"
  f:
    type: file
    default: "{{ default trigger.message.f 'note.txt' }}"
steps:
  hello:
    run: |
      echo "hello {{ inputs.who }}"
      wc -c < {{ inputs.f.path }}
`)
    // a small heap, so that a batch that would take gigabytes ends this test quickly, not the machine
    node = await startBac(['serve', '--api', '127.0.0.1:0', '--port', '0'], /API http:\/\/127\.0\.0\.1:\d+/, { cwd: project, env: { BAC_HOME: home, NODE_OPTIONS: '--max-old-space-size=256' } })
    const api = JSON.parse(readFileSync(path.join(home, 'api.json'), 'utf8')) as { url: string, token: string }
    url = api.url
    token = api.token
  })
  after(async () => {
    if (node.child.exitCode === null && node.child.signalCode === null) {
      node.child.kill('SIGINT')
      await new Promise((resolve) => node.child.once('exit', resolve))
    }
    rmSync(work, { recursive: true, force: true })
  })

  const post = async (body: string | Uint8Array, type: string): Promise<{ status: number, text: string }> => {
    try {
      const res = await fetch(`${url}/api/v1/messages/greet`, { method: 'POST', body, headers: { authorization: `Bearer ${token}`, 'content-type': type } })
      return { status: res.status, text: await res.text() }
    } catch (err) {
      return { status: 0, text: String((err as { cause?: unknown }).cause ?? err) }
    }
  }
  const ended = async (id: string): Promise<void> => {
    await until(async () => {
      const res = await fetch(`${url}/api/v1/runs/${id}`, { headers: { authorization: `Bearer ${token}` } })
      const status = ((await res.json()) as { status: string }).status
      return status !== 'queued' && status !== 'running'
    }, `run ${id} to end`)
  }

  it('a field inside a quoted template reaches the shell as data: nothing it names runs', async () => {
    const marker = path.join(work, 'injected')
    const answer = await post(JSON.stringify({ who: `$(touch ${marker})` }), 'application/json')
    assert.equal(answer.status, 202, answer.text)
    await ended((JSON.parse(answer.text) as { runs: Array<{ id: string }> }).runs[0]?.id ?? '')
    assert.equal(existsSync(marker), false, 'the message ran a command of its own: {{ }} in double quotes is single-quoted inside them, which quotes nothing')
  })

  it('a field may not name the node\'s own secrets: its token (api.json) or its identity key', async () => {
    for (const secret of ['api.json', 'identity.key']) {
      const answer = await post(JSON.stringify({ who: 'x', f: path.join(home, secret) }), 'application/json')
      assert.equal(answer.status, 400, `${secret}: ${answer.text}`)
    }
  })

  it('keeps its data dir (content, runs, logs, token) to its own user', () => {
    assert.equal(statSync(home).mode & 0o077, 0, `the data dir bac made is mode ${(statSync(home).mode & 0o777).toString(8)}: every local user reads its blocks and run store`)
  })

  it('a 232-byte Arrow batch of two billion rows is refused, and the node stays up', async () => {
    const rows = 2_000_000_000
    const body = tableToIPC(new Table({ who: makeVector(makeData({ type: new Null(), length: rows, nullCount: rows })) }), 'stream')
    assert.ok(body.length < 1024)
    const answer = await post(body, 'application/vnd.apache.arrow.stream')
    assert.ok(answer.status >= 400 && answer.status < 500, `answered ${answer.status} ${answer.text}`)
    assert.equal(node.child.exitCode, null, `the node died:\n${node.stderr().slice(-600)}`)
  })
})
