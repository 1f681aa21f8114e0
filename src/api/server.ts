import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseUntrustedJson } from '../common/json.js'
import { UserError } from '../interfaces/errors.js'
import type { AcceptedBatch, BacNode } from '../interfaces/node.js'
import { AccessCheck, Refusal, type ApiAccess } from './access.js'
import { DASHBOARD_CODE_MS, DashboardSessions } from './sessions.js'
import { BodyBudget, DEFAULT_MAX_BODIES_BYTES, DEFAULT_MAX_BODY_BYTES, readBody } from './body.js'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import { openApiDocument, SCHEMAS } from './openapi.js'
import { cidParam, MAX_LIST_LIMIT, parseRunRequest, runIdParam, wholeNumber } from './requests.js'

export interface ApiInit {
  /** The node the API serves: every route is one of its methods. Its errors say the status: a `MessageError` its own, a run or content not found 404, a `UserError` 400. */
  readonly node: BacNode
  /** bac's version, in the OpenAPI document. */
  readonly version?: string
  /** Who may call it: the token, and the names it may be reached by. */
  readonly access: ApiAccess
  /** @default 127.0.0.1 */
  readonly host?: string
  /** 0 for any free port. */
  readonly port: number
  /** Larger request bodies are refused with 413. @default 64 MiB */
  readonly maxBodyBytes?: number
  /** Bytes all request bodies held at once may hold together; more wait (503). @default 192 MiB */
  readonly maxBodiesBytes?: number
  /** The dashboard's built files (index.html and assets/), served at `/`; none when undefined. */
  readonly dashboardDir?: string
  /** The dashboard's logins (the node prints a code from it as it starts). @default new ones */
  readonly sessions?: DashboardSessions
}

export interface ApiServer {
  /** The base URL, e.g. `http://127.0.0.1:1234`. */
  readonly url: string
  close: () => Promise<void>
}

/** Clients that watch the node's events at once at most. */
const MAX_WATCHERS = 256
/** What a streamed answer may leave unsent to a client before the client is let go. */
const MAX_UNSENT_BYTES = 8 * 1024 * 1024
/** A folder's entries listed at most (the listing then says it was cut). */
const MAX_ENTRIES = 1000

/** Idempotency keys of run requests remembered at most. */
const MAX_RUN_KEYS = 1024

/** Run requests checked against the OpenAPI document's schema, compiled once. */
const checkRunRequest: ValidateFunction = new Ajv2020({ strict: false, allErrors: false }).compile(SCHEMAS.RunRequest)

/** The most one `POST /api/v1/content` may carry (a CAR of the file or folder, blocks and framing). */
const MAX_CONTENT_BYTES = 256 * 1024 ** 3

class HttpError extends Error {
  constructor (readonly status: number, message: string) { super(message) }
}

/** Headers every answer carries: no caching, no sniffing, and never a CORS header. */
const COMMON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }

function send (res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = `${JSON.stringify(body)}\n`
  res.writeHead(status, { ...COMMON_HEADERS, ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** Answers with NDJSON, one line per `send`, from what `produce` sends until it resolves. */
async function ndjson (res: ServerResponse, produce: (send: (value: object) => void, closed: AbortSignal) => Promise<void>): Promise<void> {
  const closed = whenClosed(res)
  let started = false
  await produce((value) => {
    if (!started) {
      res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'application/x-ndjson' })
      started = true
    }
    res.write(`${JSON.stringify(value)}\n`)
    // a client that stopped reading is let go, not buffered for
    if (unsent(res) > MAX_UNSENT_BYTES) {
      res.destroy()
      closed.abort()
    }
  }, closed.signal)
  if (!started) res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'application/x-ndjson' })
  res.end()
}

/**
 * A file of the node's store as a download: never shown by the browser as a page (whatever it
 * holds, it is `application/octet-stream`, an attachment, and sandboxed), so a result cannot run
 * script in the dashboard's origin. The dashboard shows text files by reading them as text.
 */
async function sendFile (res: ServerResponse, target: string, bytes: AsyncIterable<Uint8Array>, closed: AbortSignal): Promise<void> {
  const name = (target.split('/').at(-1) ?? 'file').replace(/[^A-Za-z0-9._-]/g, '_')
  await pipeOut(res, {
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename="${name}"`,
    'content-security-policy': 'sandbox; default-src \'none\''
  }, bytes, closed)
}

/**
 * Streams `bytes` as a 200 with `headers`, as the client reads it: the first piece is had before
 * the headers go, so content that is missing is a 404 (or whatever it throws), not a cut stream.
 */
async function pipeOut (res: ServerResponse, headers: Readonly<Record<string, string>>, bytes: AsyncIterable<Uint8Array>, closed: AbortSignal): Promise<void> {
  const source = bytes[Symbol.asyncIterator]()
  const first = await source.next()
  res.writeHead(200, { ...COMMON_HEADERS, ...headers })
  for (let piece = first; piece.done !== true; piece = await source.next()) {
    if (closed.aborted) break
    if (!res.write(piece.value)) await once(res, 'drain', { signal: closed }).catch(() => {})
  }
  await source.return?.()
  res.end()
}

/** A controller aborted when the client's connection closes (it left, or the answer is done). */
function whenClosed (res: ServerResponse): AbortController {
  const closed = new AbortController()
  res.on('close', () => { closed.abort() })
  return closed
}

/** The dashboard's files, read once: the page, and its assets by name. */
interface Dashboard {
  readonly page: Buffer
  readonly assets: ReadonlyMap<string, { readonly bytes: Buffer, readonly type: string }>
}

const ASSET_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png'
}

function loadDashboard (dir: string): Dashboard | undefined {
  let page: Buffer
  let names: string[]
  try {
    page = readFileSync(path.join(dir, 'index.html'))
    names = readdirSync(path.join(dir, 'assets'))
  } catch {
    return undefined
  }
  const assets = new Map<string, { bytes: Buffer, type: string }>()
  for (const name of names) {
    const type = ASSET_TYPES[path.extname(name)]
    if (type !== undefined && /^[A-Za-z0-9._-]+$/.test(name)) assets.set(name, { bytes: readFileSync(path.join(dir, 'assets', name)), type })
  }
  return { page, assets }
}

/** What a dashboard page may do: its own scripts, styles and API, nothing from elsewhere, never framed. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer'
}

/**
 * The dashboard: `/` is the page, `/assets/…` its scripts and styles. The page holds nothing
 * secret; it logs in with the code in its URL's fragment (`/#login=<code>`, never sent to the
 * node but by the page itself, in `POST /api/v1/session`), and what it shows comes from the API.
 */
function servePage (req: IncomingMessage, res: ServerResponse, url: URL, dashboard: Dashboard): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'use GET')
  const asset = url.pathname.startsWith('/assets/') ? dashboard.assets.get(url.pathname.slice('/assets/'.length)) : undefined
  const body = url.pathname === '/' ? { bytes: dashboard.page, type: 'text/html; charset=utf-8' } : asset
  if (body === undefined) throw new HttpError(404, `no such page ${url.pathname}`)
  res.writeHead(200, { ...COMMON_HEADERS, ...PAGE_HEADERS, 'content-type': body.type, 'content-length': body.bytes.length })
  res.end(req.method === 'HEAD' ? undefined : body.bytes)
}

/** Bytes written to a client and not yet sent: the answer's own buffer and its socket's. */
function unsent (res: ServerResponse): number {
  return res.writableLength + (res.socket?.writableLength ?? 0)
}

/** The path's segments, percent-decoded; a malformed escape is the client's mistake (400). */
function segments (pathname: string): string[] {
  try {
    return pathname.split('/').filter((p) => p !== '').map(decodeURIComponent)
  } catch {
    throw new HttpError(400, `the path ${pathname.slice(0, 200)} has a malformed %-escape`)
  }
}

/** The media type of a request, lower case, without parameters. */
function mediaType (req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

/**
 * The node's local HTTP API (JSON). Every request must name this node in its Host, come from no
 * other web origin, and carry the node's token (`AccessCheck`); bodies are bounded per request
 * and together. Listens on 127.0.0.1 unless told otherwise.
 */
export async function startApi (init: ApiInit): Promise<ApiServer> {
  const limit = init.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const budget = new BodyBudget(init.maxBodiesBytes ?? DEFAULT_MAX_BODIES_BYTES)
  const host = init.host ?? '127.0.0.1'
  const access = new AccessCheck(init.access, { host, port: init.port })
  const { node } = init
  const dashboard = init.dashboardDir === undefined ? undefined : loadDashboard(init.dashboardDir)
  const sessions = init.sessions ?? new DashboardSessions()
  let watchers = 0
  // batches of messages are decoded and queued one at a time: their rows, not only their bytes, take memory
  let messages: Promise<unknown> = Promise.resolve()
  /** Run requests' idempotency keys, and the run each started (the last MAX_RUN_KEYS). */
  const started = new Map<string, Promise<string>>()
  const server = createServer((req, res) => {
    void (async () => {
      access.checkPlace(req)
      const url = new URL(req.url ?? '/', 'http://localhost')
      const parts = segments(url.pathname)
      if (parts[0] !== 'api' && dashboard !== undefined) {
        servePage(req, res, url, dashboard)
        return
      }
      if (parts[0] !== 'api' || parts[1] !== 'v1') throw new HttpError(404, `no such endpoint ${url.pathname}; the API is under /api/v1/`)
      const [, , resource, ...rest] = parts
      if (resource === 'session' && rest.length === 0) {
        // the dashboard's login: a code (printed by bac serve, or made by bac dashboard) for a session
        if (req.method !== 'POST') throw new HttpError(405, 'use POST with { "code" }')
        if (mediaType(req) !== 'application/json') throw new HttpError(415, 'send { "code" } as application/json')
        const body = await readBody(req, 4096, budget)
        let code: unknown
        try {
          code = (parseUntrustedJson(body.bytes.toString('utf8'), 'the body') as { code?: unknown } | null)?.code
        } finally {
          body.release()
        }
        const session = typeof code === 'string' ? sessions.redeem(code) : undefined
        if (session === undefined) throw new HttpError(401, 'the login code is not good (each is good once, for minutes): run bac dashboard for a new one')
        send(res, 201, session)
        return
      }
      // a download link (a link carries no header): one path, for a minute
      const ticket = url.searchParams.get('ticket')
      const scope = ticket !== null && req.method === 'GET' && req.headers.authorization === undefined
        ? (sessions.checkTicket(rest.length > 0 ? `${resource ?? ''}/${rest.join('/')}` : '', ticket) ? 'ticket' : undefined)
        : access.checkToken(req, sessions)
      if (scope === undefined) throw new HttpError(401, 'the download link has expired or is for another path: ask the dashboard again')
      if (scope === 'ticket' && resource !== 'files' && resource !== 'content') throw new HttpError(403, 'a download link is only for content')
      // a dashboard session looks and cancels; starting runs, sending messages and adding content take the node's token
      if (scope === 'session' && req.method !== 'GET' && !(resource === 'runs' && rest[1] === 'cancel')) {
        throw new HttpError(403, 'the dashboard\'s session may look at the node and cancel runs; starting runs, messages and content take the node\'s token')
      }
      if (resource === 'login-codes' && rest.length === 0) {
        if (req.method !== 'POST') throw new HttpError(405, 'use POST')
        if (scope !== 'token') throw new HttpError(403, 'a login code takes the node\'s token')
        send(res, 201, sessions.code(DASHBOARD_CODE_MS))
        return
      }
      if (resource === 'tickets' && rest.length === 0) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        const target = url.searchParams.get('path') ?? ''
        if (!/^(files|content)\/[^?#]+$/.test(target) || target.split('/').some((p) => p === '' || p === '.' || p === '..')) {
          throw new HttpError(400, 'path must be files/<cid>[/path] or content/<cid>')
        }
        send(res, 200, { url: `/api/v1/${target.split('/').map(encodeURIComponent).join('/')}?${target.startsWith('content/') ? 'download=1&' : ''}ticket=${sessions.ticket(target)}` })
        return
      }
      if (resource === 'openapi.json' && rest.length === 0) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        send(res, 200, openApiDocument(init.version ?? '0.0.0'))
        return
      }
      if (resource === 'health' && rest.length === 0) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        send(res, 200, await node.health())
        return
      }
      if (resource === 'triggers' && rest.length === 0) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        send(res, 200, await node.triggers())
        return
      }
      if (resource === 'events' && rest.length === 0) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        if (watchers >= MAX_WATCHERS) throw new HttpError(503, `${MAX_WATCHERS} clients watch this node already; try again later`)
        watchers++
        const closed = whenClosed(res)
        try {
          const events = await node.watch(closed.signal)
          // the headers at once: a client knows it watches from here on
          res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'application/x-ndjson' })
          res.flushHeaders()
          // written as the client reads: one that stopped reading leaves events unread at the hub, which lets it go
          for await (const event of events) {
            if (!res.write(`${JSON.stringify(event)}\n`)) await once(res, 'drain', { signal: closed.signal }).catch(() => {})
            if (closed.signal.aborted) break
          }
          res.end()
        } finally {
          watchers--
        }
        return
      }
      if (resource === 'files' && rest.length > 0) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        const target = rest.join('/')
        const closed = whenClosed(res)
        try {
          const entries = await node.listContent(target)
          send(res, 200, { type: 'directory', entries, ...(entries.length >= MAX_ENTRIES ? { truncated: true } : {}) })
        } catch (err) {
          if (!(err instanceof Error) || err.name !== 'NotAFolderError') throw err
          await sendFile(res, target, node.catContent(target), closed.signal)
        }
        return
      }
      if (resource === 'node' && rest.length === 0) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        send(res, 200, await node.info())
        return
      }
      if (resource === 'messages' && rest.length > 0) {
        if (req.method !== 'POST') throw new HttpError(405, 'use POST with a JSON, NDJSON or Arrow IPC body')
        const body = await readBody(req, limit, budget)
        try {
          const key = req.headers['idempotency-key']
          const batch = { body: body.bytes, contentType: req.headers['content-type'] ?? '', ...(typeof key === 'string' && key !== '' ? { key } : {}) }
          const accept = async (): Promise<AcceptedBatch> => await node.sendMessages(rest.join('/'), batch)
          const turn = messages.then(accept, accept)
          messages = turn.catch(() => {})
          const accepted = await turn
          send(res, accepted.duplicate ? 200 : 202, accepted)
        } finally {
          body.release()
        }
        return
      }
      if (resource === 'runs' && rest.length === 0 && req.method === 'GET') {
        const count = wholeNumber(url, 'limit', MAX_LIST_LIMIT)
        const before = url.searchParams.get('before') ?? undefined
        const cid = url.searchParams.get('cid') ?? undefined
        send(res, 200, await node.listRuns({
          ...(count !== undefined ? { limit: count } : {}),
          ...(before !== undefined ? { before: runIdParam(before) } : {}),
          ...(cid !== undefined ? { cid: cidParam(cid) } : {})
        }))
        return
      }
      if (resource === 'runs' && rest.length === 0) {
        if (req.method !== 'POST') throw new HttpError(405, 'use POST with a JSON body { pipeline | text, inputs, cwd }')
        if (mediaType(req) !== 'application/json') throw new HttpError(415, `send the run request as application/json, not '${mediaType(req) || '(no content type)'}'`)
        const body = await readBody(req, limit, budget)
        let request: unknown
        try {
          request = parseUntrustedJson(body.bytes.toString('utf8'), 'the body')
        } finally {
          body.release()
        }
        // the same request sent again (its connection reset on the way) gets the run it started
        const key = req.headers['idempotency-key']
        const repeat = typeof key === 'string' ? started.get(key) : undefined
        if (repeat !== undefined) {
          send(res, 202, { runId: await repeat })
          return
        }
        // its meaning first (the clearest words for a mistake), then the shape the OpenAPI document gives
        const parsed = parseRunRequest(request)
        if (!checkRunRequest(request)) {
          const first = checkRunRequest.errors?.[0]
          throw new HttpError(400, (`the run request does not match the API's RunRequest schema: ${first?.instancePath || '(the body)'} ${first?.message ?? ''}` +
            `${first?.params !== undefined && 'additionalProperty' in first.params ? ` '${String(first.params.additionalProperty)}'` : ''}`).trim())
        }
        const starting = node.startRun(parsed)
        if (typeof key === 'string' && key.length <= 128) {
          // kept from the start: a repeat that arrives while the first is still starting waits for it
          const runId = starting
          runId.catch(() => { started.delete(key) })
          started.set(key, runId)
          // the last keys only: a repeat comes within moments
          if (started.size > MAX_RUN_KEYS) started.delete(started.keys().next().value as string)
        }
        send(res, 202, { runId: await starting })
        return
      }
      if (resource === 'runs' && rest.length === 2 && rest[1] === 'events') {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        const id = runIdParam(rest[0] as string)
        await ndjson(res, async (send, closed) => { for await (const event of node.follow(id, closed)) send(event) })
        return
      }
      if (resource === 'runs' && rest.length === 2 && rest[1] === 'logs') {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        const id = runIdParam(rest[0] as string)
        const step = url.searchParams.get('step') ?? undefined
        const follow = ['1', 'true'].includes(url.searchParams.get('follow') ?? '')
        await ndjson(res, async (send, signal) => { await node.logs(id, { ...(step !== undefined ? { step } : {}), follow, signal }, send) })
        return
      }
      if (resource === 'runs' && rest.length === 2 && rest[1] === 'provenance') {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        send(res, 200, await node.provenance(runIdParam(rest[0] as string)))
        return
      }
      if (resource === 'content' && rest.length === 0) {
        if (req.method !== 'POST') throw new HttpError(405, 'use POST with a CAR v1 body')
        if (mediaType(req) !== 'application/vnd.ipld.car') throw new HttpError(415, `send content as application/vnd.ipld.car (a CAR v1 stream), not '${mediaType(req) || '(no content type)'}'`)
        const closed = whenClosed(res)
        // streamed into the store as it arrives (never held whole), up to a bound
        const bounded = async function * (): AsyncIterable<Uint8Array> {
          let size = 0
          for await (const piece of req as AsyncIterable<Uint8Array>) {
            size += piece.length
            if (size > MAX_CONTENT_BYTES) throw new HttpError(413, `content over ${MAX_CONTENT_BYTES} bytes is not taken in one request`)
            yield piece
          }
        }
        send(res, 201, { roots: await node.importCar(bounded(), closed.signal) })
        return
      }
      if (resource === 'content' && rest.length > 0) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        const closed = whenClosed(res)
        const download: Record<string, string> = url.searchParams.has('download') ? { 'content-disposition': `attachment; filename="${rest.join('_').replace(/[^A-Za-z0-9._-]/g, '_')}.car"` } : {}
        await pipeOut(res, { ...download, 'content-type': 'application/vnd.ipld.car; version=1' }, node.exportCar(rest.join('/'), closed.signal), closed.signal)
        return
      }
      if (resource === 'runs' && rest.length === 2 && rest[1] === 'cancel') {
        if (req.method !== 'POST') throw new HttpError(405, 'use POST')
        const id = runIdParam(rest[0] as string)
        send(res, 202, { cancelling: await node.cancelRun(id) })
        return
      }
      if (resource === 'peers' && rest.length === 0) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        send(res, 200, await node.peers())
        return
      }
      if (resource === 'runs' && rest.length === 1) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        const id = runIdParam(rest[0] as string)
        const { run, steps, executions } = await node.describeRun(id)
        send(res, 200, { ...run, steps, executions })
        return
      }
      throw new HttpError(404, `no such endpoint ${req.method ?? ''} ${url.pathname}`)
    })().catch((err: unknown) => {
      const status = err instanceof HttpError || err instanceof Refusal
        ? err.status
        : typeof (err as { status?: unknown }).status === 'number'
          ? (err as { status: number }).status
          : ['RunNotFoundError', 'ContentNotFoundError', 'RecordNotFoundError'].includes((err as Error).name) ? 404 : (err instanceof UserError ? 400 : 500)
      const message = err instanceof Error ? err.message : String(err)
      if (res.headersSent) {
        res.destroy()
        return
      }
      // a body the request still sends is read and dropped, not held (so the client gets this
      // answer rather than a reset); the server's request timeout bounds how long that may take
      const headers = err instanceof Refusal ? err.headers : {}
      send(res, status, { error: message }, headers)
      if (headers.connection === 'close') res.once('finish', () => { req.destroy() })
      else if (!req.complete) req.resume()
    })
  })
  server.keepAliveTimeout = 5000
  // a request (headers and body) that takes longer is cut: a slow sender cannot hold a connection for ever
  server.requestTimeout = 120_000
  server.headersTimeout = 20_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port, host, () => { server.off('error', reject); resolve() })
  })
  const address = server.address() as AddressInfo
  access.port = address.port
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${shown}:${address.port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}
