/**
 * The HTTP API described once: its routes and the JSON Schemas (2020-12) of what they take and
 * give. The server serves it at `GET /api/v1/openapi.json` (OpenAPI 3.1) and checks run requests
 * against it; the tests check every answer the node gives against it.
 */

const text = { type: 'string' } as const
const cid = { type: 'string', pattern: '^[1-9A-Za-z]+$', description: 'a CID' } as const
const runId = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' } as const
const time = { type: 'number', description: 'milliseconds since the epoch' } as const
const object = { type: 'object' } as const

export const SCHEMAS = {
  Error: { type: 'object', required: ['error'], properties: { error: text } },
  Run: {
    type: 'object',
    required: ['id', 'pipeline', 'pipelineFile', 'status', 'summary', 'data', 'trigger', 'inputs', 'createdAt'],
    properties: {
      id: runId,
      pipeline: text,
      pipelineFile: text,
      status: { enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'] },
      summary: text,
      data: { type: 'array', items: text },
      trigger: object,
      inputs: object,
      createdAt: time,
      startedAt: time,
      endedAt: time,
      resultCid: cid,
      provenanceCid: cid,
      reason: text,
      graph: {
        type: 'object',
        required: ['steps'],
        properties: {
          steps: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'needs', 'executor', 'nodes', 'foreach', 'conditional'],
              properties: {
                id: text,
                needs: { type: 'array', items: text },
                executor: text,
                nodes: { type: 'integer', minimum: 1 },
                foreach: { type: 'boolean' },
                uses: text,
                conditional: { type: 'boolean' }
              }
            }
          }
        }
      },
      request: object
    }
  },
  Step: {
    type: 'object',
    required: ['runId', 'stepId', 'status'],
    properties: { runId, stepId: text, status: text, cacheKey: text, outputsCid: cid, startedAt: time, endedAt: time, reason: text, cachedFrom: object }
  },
  Execution: {
    type: 'object',
    required: ['id', 'runId', 'stepId', 'attempt', 'node', 'executor', 'startedAt'],
    properties: {
      id: { type: 'integer' }, runId, stepId: text, attempt: { type: 'integer' }, item: { type: 'integer' }, node: text, executor: text, startedAt: time, endedAt: time,
      exitCode: { type: 'integer' }, signal: text, outputsCid: cid, logDir: text, error: text, peer: text, machine: text, cacheKey: text, attestation: { $ref: '#/components/schemas/Envelope' }
    }
  },
  RunWithSteps: {
    allOf: [
      { $ref: '#/components/schemas/Run' },
      {
        type: 'object',
        required: ['steps', 'executions'],
        properties: {
          steps: { type: 'array', items: { $ref: '#/components/schemas/Step' } },
          executions: { type: 'array', items: { $ref: '#/components/schemas/Execution' } }
        }
      }
    ]
  },
  RunRequest: {
    type: 'object',
    additionalProperties: false,
    properties: {
      pipeline: text,
      text,
      job: { type: 'object', additionalProperties: false, required: ['command'], properties: { cids: { type: 'array', maxItems: 64, items: cid }, command: { type: 'string', maxLength: 65536 } } },
      file: text,
      inputs: { type: 'object', additionalProperties: text },
      cwd: text,
      outputsDir: { type: ['string', 'null'] },
      noCache: { type: 'boolean' },
      concurrency: { type: 'integer', minimum: 1, maximum: 1024 },
      executor: { enum: ['process', 'sandbox', 'vm'] },
      image: text
    }
  },
  Started: { type: 'object', required: ['runId'], properties: { runId } },
  Cancelling: { type: 'object', required: ['cancelling'], properties: { cancelling: runId } },
  Batch: {
    type: 'object',
    required: ['topic', 'runs', 'duplicate'],
    properties: {
      topic: text,
      duplicate: { type: 'boolean' },
      runs: { type: 'array', items: { type: 'object', required: ['id', 'pipeline', 'row'], properties: { id: runId, pipeline: text, row: { type: 'integer' } } } }
    }
  },
  Health: {
    type: 'object',
    required: ['ok', 'id', 'version', 'uptimeMs', 'runs'],
    properties: {
      ok: { type: 'boolean' },
      id: text,
      version: text,
      uptimeMs: { type: 'number' },
      runs: { type: 'object', required: ['running', 'queued'], properties: { running: { type: 'integer' }, queued: { type: 'integer' } } },
      peers: { type: 'integer' },
      runningForPeers: { type: 'integer' }
    }
  },
  Advert: {
    type: 'object',
    required: ['nodeId', 'peerId', 'version', 'labels', 'executors', 'slots', 'running', 'addrs'],
    properties: {
      nodeId: text,
      peerId: text,
      version: text,
      labels: { type: 'object', additionalProperties: { type: 'string' } },
      executors: { type: 'array', items: text },
      images: { type: 'array', items: text },
      slots: { type: 'integer', minimum: 0 },
      running: { type: 'integer', minimum: 0 },
      addrs: { type: 'array', items: text }
    }
  },
  Node: {
    type: 'object',
    required: ['id', 'pipelines', 'topics'],
    properties: {
      id: text,
      pipelines: { type: 'array', items: text },
      topics: { type: 'array', items: text },
      peerId: text,
      addrs: { type: 'array', items: text },
      advert: { $ref: '#/components/schemas/Advert' }
    }
  },
  Peer: {
    type: 'object',
    required: ['advert', 'trusted', 'connected', 'lastSeen', 'dispatched'],
    properties: { advert: { $ref: '#/components/schemas/Advert' }, trusted: { type: 'boolean' }, connected: { type: 'boolean' }, lastSeen: time, dispatched: { type: 'integer' } }
  },
  Envelope: {
    type: 'object',
    required: ['payloadType', 'payload', 'signatures'],
    properties: { payloadType: text, payload: text, signatures: { type: 'array', items: { type: 'object', required: ['keyid', 'sig'], properties: { keyid: text, sig: text } } } }
  },
  Roots: { type: 'object', required: ['roots'], properties: { roots: { type: 'array', items: cid } } },
  Folder: {
    type: 'object',
    required: ['type', 'entries'],
    properties: {
      type: { const: 'directory' },
      entries: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'cid', 'type', 'size'],
          properties: { name: text, cid, type: { enum: ['file', 'directory'] }, size: { type: 'integer', minimum: 0 } }
        }
      }
    }
  },
  Session: { type: 'object', required: ['session', 'expiresAt'], properties: { session: text, expiresAt: time } },
  LoginCode: { type: 'object', required: ['code', 'expiresAt'], properties: { code: text, expiresAt: time } },
  Ticket: { type: 'object', required: ['url'], properties: { url: text } },
  Triggers: {
    type: 'object',
    required: ['pipeline', 'file'],
    properties: {
      pipeline: text,
      file: text,
      watch: {
        type: 'object',
        required: ['folder', 'taken', 'waiting', 'failed'],
        properties: { folder: text, taken: { type: 'integer' }, waiting: { type: 'integer' }, failed: { type: 'integer' } }
      },
      message: { type: 'object', required: ['topic', 'runs'], properties: { topic: text, runs: { type: 'integer' }, lastAt: time } },
      schedule: { type: 'object', required: ['runs'], properties: { next: time, runs: { type: 'integer' }, lastAt: time } }
    }
  },
  LogChunk: {
    type: 'object',
    required: ['stepId', 'attempt', 'node', 'stream', 'text'],
    properties: { stepId: text, item: { type: 'integer' }, attempt: { type: 'integer' }, node: text, stream: { enum: ['stdout', 'stderr'] }, text }
  },
  RunEvent: { type: 'object', required: ['type', 'runId'], properties: { type: { enum: ['run:start', 'step:start', 'step:log', 'step:end', 'run:end'] }, runId } }
} as const

type SchemaName = keyof typeof SCHEMAS

/** One route: what it takes and what it answers, with the status of a success. */
interface Route {
  readonly method: 'get' | 'post'
  readonly path: string
  readonly summary: string
  readonly request?: { readonly type: string, readonly schema?: SchemaName }
  readonly response: { readonly status: number, readonly type: string, readonly schema?: SchemaName, readonly list?: boolean }
  readonly query?: readonly string[]
}

const json = 'application/json'
const ndjson = 'application/x-ndjson'
const car = 'application/vnd.ipld.car'

export const ROUTES: readonly Route[] = [
  { method: 'get', path: '/api/v1/health', summary: 'Whether the node works, and what it is busy with', response: { status: 200, type: json, schema: 'Health' } },
  { method: 'get', path: '/api/v1/node', summary: 'Who the node is: id, pipelines, topics; on a network its peer id, addresses and advert', response: { status: 200, type: json, schema: 'Node' } },
  { method: 'get', path: '/api/v1/peers', summary: 'The peers the node knows', response: { status: 200, type: json, schema: 'Peer', list: true } },
  {
    method: 'get',
    path: '/api/v1/triggers',
    summary: 'What starts runs of each pipeline the node serves, and what those triggers did',
    response: { status: 200, type: json, schema: 'Triggers', list: true }
  },
  {
    method: 'post',
    path: '/api/v1/session',
    summary: 'The dashboard\'s login: a login code (good once) for a session, which may look at the node and cancel runs; needs no token',
    request: { type: json },
    response: { status: 201, type: json, schema: 'Session' }
  },
  {
    method: 'post',
    path: '/api/v1/login-codes',
    summary: 'A dashboard login code, good once for a minute (bac dashboard); needs the node\'s token',
    response: { status: 201, type: json, schema: 'LoginCode' }
  },
  {
    method: 'get',
    path: '/api/v1/tickets',
    summary: 'A download link for one path (files/<cid>[/path] or content/<cid>), good for a minute without a header',
    query: ['path'],
    response: { status: 200, type: json, schema: 'Ticket' }
  },
  { method: 'get', path: '/api/v1/events', summary: 'Every run\'s events from now on (not what steps print), as NDJSON', response: { status: 200, type: ndjson, schema: 'RunEvent' } },
  {
    method: 'get',
    path: '/api/v1/files/{cid}',
    summary: 'A folder of the node\'s store as its entries (JSON), or a file\'s bytes as a download (application/octet-stream); {cid} may go on with /path',
    response: { status: 200, type: json, schema: 'Folder' }
  },
  {
    method: 'post',
    path: '/api/v1/messages/{topic}',
    summary: 'A batch of messages: JSON, NDJSON or Apache Arrow IPC; one run per row and pipeline on the topic',
    request: { type: 'application/json' },
    response: { status: 202, type: json, schema: 'Batch' }
  },
  { method: 'get', path: '/api/v1/runs', summary: 'Runs, newest first', query: ['limit', 'before', 'cid'], response: { status: 200, type: json, schema: 'Run', list: true } },
  {
    method: 'post',
    path: '/api/v1/runs',
    summary: 'Starts a run: of a pipeline the node serves, of a pipeline\'s text, or of the seed\'s job',
    request: { type: json, schema: 'RunRequest' },
    response: { status: 202, type: json, schema: 'Started' }
  },
  { method: 'get', path: '/api/v1/runs/{id}', summary: 'A run with its steps and every attempt', response: { status: 200, type: json, schema: 'RunWithSteps' } },
  { method: 'get', path: '/api/v1/runs/{id}/events', summary: 'The run\'s events, from its start to its run:end', response: { status: 200, type: ndjson, schema: 'RunEvent' } },
  {
    method: 'get',
    path: '/api/v1/runs/{id}/logs',
    summary: 'What the run\'s steps printed; with follow, as they print it',
    query: ['step', 'follow'],
    response: { status: 200, type: ndjson, schema: 'LogChunk' }
  },
  {
    method: 'get',
    path: '/api/v1/runs/{id}/provenance',
    summary: 'The run\'s signed provenance record (a DSSE envelope of an in-toto statement)',
    response: { status: 200, type: json, schema: 'Envelope' }
  },
  { method: 'post', path: '/api/v1/runs/{id}/cancel', summary: 'Cancels a run the node runs or holds waiting', response: { status: 202, type: json, schema: 'Cancelling' } },
  { method: 'post', path: '/api/v1/content', summary: 'Stores a CAR v1 stream, each block checked against its CID', request: { type: car }, response: { status: 201, type: json, schema: 'Roots' } },
  { method: 'get', path: '/api/v1/content/{cid}', summary: 'A file or folder the node holds, as a CAR v1 stream', response: { status: 200, type: car } },
  { method: 'get', path: '/api/v1/openapi.json', summary: 'This document', response: { status: 200, type: json } }
]

const ref = (name: SchemaName): { $ref: string } => ({ $ref: `#/components/schemas/${name}` })

/** The OpenAPI 3.1 document of the API, from the routes and schemas above. */
export function openApiDocument (version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of ROUTES) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }))
    const query = (r.query ?? []).map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } }))
    const schema = r.response.schema === undefined ? undefined : (r.response.list === true ? { type: 'array', items: ref(r.response.schema) } : ref(r.response.schema))
    paths[r.path] = {
      ...(paths[r.path] ?? {}),
      [r.method]: {
        summary: r.summary,
        ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
        ...(r.request !== undefined ? { requestBody: { required: true, content: { [r.request.type]: r.request.schema !== undefined ? { schema: ref(r.request.schema) } : {} } } } : {}),
        responses: {
          [String(r.response.status)]: { description: r.summary, content: { [r.response.type]: schema !== undefined ? { schema } : {} } },
          default: { description: 'an error: 400, 401, 403, 404, 405, 409, 413, 415 or 503, with the reason', content: { [json]: { schema: ref('Error') } } }
        }
      }
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'bac node API', version },
    security: [{ token: [] }],
    paths,
    components: {
      schemas: SCHEMAS,
      securitySchemes: { token: { type: 'http', scheme: 'bearer', description: 'the node\'s API token (<data-dir>/api.json, --token or $BAC_TOKEN)' } }
    }
  }
}
