import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { api } from '../helpers/api.js'
import { oneRun } from '../helpers/cli.js'
import { scratch, startNode, type NodeProcess } from '../network/helpers.js'

describe('the OpenAPI document at /api/v1/openapi.json is what the node answers', () => {
  const { dir, cleanup } = scratch('openapi')
  const dataDir = path.join(dir, 'data')
  let node: NodeProcess
  let doc: {
    openapi: string
    paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema?: unknown }> }> }>>
    components: { schemas: Record<string, unknown> }
  }
  let runId = ''
  const ajv = new Ajv2020({ strict: false, allErrors: true })

  before(async () => {
    runId = oneRun(dir, dataDir, 'one', 'name: one\nsteps:\n  one:\n    run: echo one > {{ outputs.path }}/one.txt\n')
    node = await startNode(dataDir, ['--allow-path', dir], { cwd: dir })
    const res = await api(node, '/api/v1/openapi.json')
    assert.equal(res.status, 200)
    doc = await res.json() as typeof doc
    ajv.addSchema({ $id: 'bac', $defs: JSON.parse(JSON.stringify(doc.components.schemas).replaceAll('#/components/schemas/', '#/$defs/')) as object })
  })
  after(async () => {
    await node?.stop()
    cleanup()
  })

  /** The schema the document gives a route's answer of a status, with its refs pointed at the components. */
  function schemaOf (route: string, method: string, status: string): unknown {
    const content = doc.paths[route]?.[method]?.responses[status]?.content ?? {}
    const schema = Object.values(content)[0]?.schema
    assert.ok(schema !== undefined, `the document gives ${method.toUpperCase()} ${route} ${status} a schema`)
    return JSON.parse(JSON.stringify(schema).replaceAll('#/components/schemas/', 'bac#/$defs/'))
  }

  async function check (method: 'get' | 'post', route: string, url: string, init: RequestInit = {}): Promise<void> {
    const res = await api(node, url, { method: method.toUpperCase(), ...init })
    const body: unknown = await res.json()
    const status = String(res.status)
    const documented = doc.paths[route]?.[method]?.responses[status] !== undefined ? status : 'default'
    const validate = ajv.compile(schemaOf(route, method, documented) as object)
    assert.equal(validate(body), true, `${method.toUpperCase()} ${url} (${status}): ${JSON.stringify(validate.errors)} in ${JSON.stringify(body).slice(0, 300)}`)
  }

  it('is OpenAPI 3.1 with every route the API serves', () => {
    assert.equal(doc.openapi, '3.1.0')
    for (const route of [
      '/api/v1/health', '/api/v1/node', '/api/v1/peers', '/api/v1/runs', '/api/v1/runs/{id}', '/api/v1/runs/{id}/events', '/api/v1/runs/{id}/logs',
      '/api/v1/runs/{id}/provenance', '/api/v1/runs/{id}/cancel', '/api/v1/content', '/api/v1/content/{cid}', '/api/v1/messages/{topic}',
      '/api/v1/triggers', '/api/v1/events', '/api/v1/files/{cid}'
    ]) {
      assert.ok(doc.paths[route] !== undefined, route)
    }
  })

  it('every answer matches its schema: successes and errors', async () => {
    await check('get', '/api/v1/health', '/api/v1/health')
    await check('get', '/api/v1/node', '/api/v1/node')
    await check('get', '/api/v1/peers', '/api/v1/peers')
    await check('get', '/api/v1/runs', '/api/v1/runs?limit=5')
    await check('get', '/api/v1/runs/{id}', `/api/v1/runs/${runId}`)
    await check('get', '/api/v1/runs/{id}/provenance', `/api/v1/runs/${runId}/provenance`)
    await check('get', '/api/v1/triggers', '/api/v1/triggers')
    const described = await (await api(node, `/api/v1/runs/${runId}`)).json() as { resultCid: string }
    await check('get', '/api/v1/files/{cid}', `/api/v1/files/${described.resultCid}`)
    await check('post', '/api/v1/runs', '/api/v1/runs', { body: JSON.stringify({ job: { cids: [], command: 'true' }, outputsDir: null }), headers: { 'content-type': 'application/json' } })
    // errors: a run that is not there, a run that has ended, a request the schema refuses
    await check('get', '/api/v1/runs/{id}', '/api/v1/runs/nosuchrun')
    await check('post', '/api/v1/runs/{id}/cancel', `/api/v1/runs/${runId}/cancel`)
    await check('post', '/api/v1/runs', '/api/v1/runs', { body: JSON.stringify({ job: { command: 'true', extra: 1 } }), headers: { 'content-type': 'application/json' } })
  })

  it('starts one run for a run request sent twice with one idempotency key (a retry after a reset)', async () => {
    const send = async (): Promise<string> => {
      const res = await api(node, '/api/v1/runs', {
        method: 'POST',
        body: JSON.stringify({ job: { cids: [], command: 'true' }, outputsDir: null }),
        headers: { 'content-type': 'application/json', 'idempotency-key': 'retry-0123' }
      })
      assert.equal(res.status, 202)
      return (await res.json() as { runId: string }).runId
    }
    const [first, second] = await Promise.all([send(), send()])
    assert.equal(first, second)
    assert.equal(await send(), first)
    const listed = await (await api(node, '/api/v1/runs?limit=100')).json() as Array<{ id: string }>
    assert.equal(listed.filter((r) => r.id === first).length, 1)
  })

  it('refuses a run request the schema refuses, with where and why', async () => {
    const res = await api(node, '/api/v1/runs', { method: 'POST', body: JSON.stringify({ text: 'name: x', outputsDir: 3 }), headers: { 'content-type': 'application/json' } })
    assert.equal(res.status, 400)
    assert.match((await res.json() as { error: string }).error, /outputsDir/)
  })
})
