import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { UserError } from '../interfaces/errors.js'

/** What the API serves; the node provides it. Each handler may throw a `MessageError` (its status) or a `UserError` (400). */
export interface ApiHandlers {
  /** `GET /api/v1/node`: who this node is and what it listens to. */
  readonly info: () => Readonly<Record<string, unknown>>
  /** `POST /api/v1/messages/<topic>`: accepts a batch; returns what was queued (202, or 200 for a repeat). */
  readonly message: (topic: string, body: Uint8Array, contentType: string | undefined, key: string | undefined) => Promise<{ readonly duplicate: boolean } & Readonly<Record<string, unknown>>>
  /** `GET /api/v1/runs/<id>`: a run and its steps, or undefined. */
  readonly run: (id: string) => Readonly<Record<string, unknown>> | undefined
  /** `POST /api/v1/runs`: starts a run of a pipeline file on this node; returns its id (202). */
  readonly startRun?: (request: Readonly<Record<string, unknown>>) => Promise<{ readonly runId: string }>
  /**
   * `GET /api/v1/runs/<id>/events`: the run's events as NDJSON, from its start (those it already
   * sent) to its end. Calls `send` for each; resolves when the run has ended or the client left.
   */
  readonly events?: (id: string, send: (event: Readonly<Record<string, unknown>>) => void, closed: AbortSignal) => Promise<void>
  /** `POST /api/v1/runs/<id>/cancel`: cancels a run running here (202), or says why not. */
  readonly cancel?: (id: string) => void
  /** `GET /api/v1/runs?limit=N&before=<id>`: runs, newest first. */
  readonly list?: (options: { readonly limit?: number, readonly before?: string }) => ReadonlyArray<Readonly<Record<string, unknown>>>
  /**
   * `GET /api/v1/runs/<id>/logs?step=<s>&follow=1`: what the run's steps printed, as NDJSON
   * chunks; with `follow`, as they print it, until the run has ended or the client left.
   */
  readonly logs?: (id: string, options: { readonly step?: string, readonly follow: boolean }, send: (chunk: Readonly<Record<string, unknown>>) => void, closed: AbortSignal) => Promise<void>
  /** `GET /api/v1/content/<cid>[/path]`: the content's blocks as a CAR v1 stream (`application/vnd.ipld.car`). */
  readonly content?: (cid: string, closed: AbortSignal) => AsyncIterable<Uint8Array>
  /** `GET /api/v1/peers`: the peers this node knows. */
  readonly peers?: () => ReadonlyArray<Readonly<Record<string, unknown>>>
}

export interface ApiInit {
  readonly handlers: ApiHandlers
  /** @default 127.0.0.1 */
  readonly host?: string
  /** 0 for any free port. */
  readonly port: number
  /** Larger request bodies are refused with 413. @default 64 MiB */
  readonly maxBodyBytes?: number
}

export interface ApiServer {
  /** The base URL, e.g. `http://127.0.0.1:1234`. */
  readonly url: string
  close: () => Promise<void>
}

class HttpError extends Error {
  constructor (readonly status: number, message: string) { super(message) }
}

async function readBody (req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) throw new HttpError(413, `the body is ${declared} bytes; at most ${limit} are taken in one request (split the batch)`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) throw new HttpError(413, `the body is over ${limit} bytes; split the batch`)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

function send (res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** Answers with NDJSON, one line per `send`, from what `produce` sends until it resolves. */
async function ndjson (res: ServerResponse, produce: (send: (value: Readonly<Record<string, unknown>>) => void, closed: AbortSignal) => Promise<void>): Promise<void> {
  const closed = new AbortController()
  res.on('close', () => { closed.abort() })
  let started = false
  await produce((value) => {
    if (!started) {
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' })
      started = true
    }
    res.write(`${JSON.stringify(value)}\n`)
  }, closed.signal)
  if (!started) res.writeHead(200, { 'content-type': 'application/x-ndjson' })
  res.end()
}

/** A whole number from a query parameter, or undefined when absent. */
function wholeNumber (url: URL, name: string): number | undefined {
  const text = url.searchParams.get(name)
  if (text === null) return undefined
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1) throw new HttpError(400, `${name} must be a whole number of at least 1, got '${text}'`)
  return value
}

/**
 * The node's local HTTP API (JSON). Listens on 127.0.0.1 unless told otherwise: it has no
 * authentication of its own, so it is for the machine's own users and programs.
 */
export async function startApi (init: ApiInit): Promise<ApiServer> {
  const limit = init.maxBodyBytes ?? 64 * 1024 * 1024
  const { handlers } = init
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost')
      const parts = url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent)
      if (parts[0] !== 'api' || parts[1] !== 'v1') throw new HttpError(404, `no such endpoint ${url.pathname}; the API is under /api/v1/`)
      const [, , resource, ...rest] = parts
      if (resource === 'node' && rest.length === 0) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        send(res, 200, handlers.info())
        return
      }
      if (resource === 'messages' && rest.length > 0) {
        if (req.method !== 'POST') throw new HttpError(405, 'use POST with a JSON, NDJSON or Arrow IPC body')
        const body = await readBody(req, limit)
        const key = req.headers['idempotency-key']
        const accepted = await handlers.message(rest.join('/'), body, req.headers['content-type'], typeof key === 'string' && key !== '' ? key : undefined)
        send(res, accepted.duplicate ? 200 : 202, accepted)
        return
      }
      if (resource === 'runs' && rest.length === 0 && req.method === 'GET' && handlers.list !== undefined) {
        const limit = wholeNumber(url, 'limit')
        const before = url.searchParams.get('before') ?? undefined
        send(res, 200, handlers.list({ ...(limit !== undefined ? { limit } : {}), ...(before !== undefined ? { before } : {}) }))
        return
      }
      if (resource === 'runs' && rest.length === 0 && handlers.startRun !== undefined) {
        if (req.method !== 'POST') throw new HttpError(405, 'use POST with a JSON body { pipeline, inputs, cwd }')
        const body = await readBody(req, limit)
        let request: unknown
        try {
          request = JSON.parse(Buffer.from(body).toString('utf8'))
        } catch {
          throw new HttpError(400, 'the body is not JSON')
        }
        if (typeof request !== 'object' || request === null) throw new HttpError(400, 'the body must be a JSON object { pipeline, inputs, cwd }')
        send(res, 202, await handlers.startRun(request as Record<string, unknown>))
        return
      }
      if (resource === 'runs' && rest.length === 2 && rest[1] === 'events' && handlers.events !== undefined) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        const events = handlers.events
        await ndjson(res, async (send, closed) => { await events(rest[0] as string, send, closed) })
        return
      }
      if (resource === 'runs' && rest.length === 2 && rest[1] === 'logs' && handlers.logs !== undefined) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        const logs = handlers.logs
        const step = url.searchParams.get('step') ?? undefined
        const follow = ['1', 'true'].includes(url.searchParams.get('follow') ?? '')
        await ndjson(res, async (send, closed) => { await logs(rest[0] as string, { ...(step !== undefined ? { step } : {}), follow }, send, closed) })
        return
      }
      if (resource === 'content' && rest.length > 0 && handlers.content !== undefined) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        const closed = new AbortController()
        res.on('close', () => { closed.abort() })
        const source = handlers.content(rest.join('/'), closed.signal)[Symbol.asyncIterator]()
        // the first piece before the headers, so a missing CID is a 404, not a cut stream
        const first = await source.next()
        res.writeHead(200, { 'content-type': 'application/vnd.ipld.car; version=1', 'cache-control': 'no-store' })
        for (let piece = first; piece.done !== true; piece = await source.next()) {
          if (closed.signal.aborted) break
          if (!res.write(piece.value)) await once(res, 'drain', { signal: closed.signal }).catch(() => {})
        }
        res.end()
        return
      }
      if (resource === 'runs' && rest.length === 2 && rest[1] === 'cancel' && handlers.cancel !== undefined) {
        if (req.method !== 'POST') throw new HttpError(405, 'use POST')
        handlers.cancel(rest[0] as string)
        send(res, 202, { cancelling: rest[0] })
        return
      }
      if (resource === 'peers' && rest.length === 0 && handlers.peers !== undefined) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        send(res, 200, handlers.peers())
        return
      }
      if (resource === 'runs' && rest.length === 1) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        const run = handlers.run(rest[0] as string)
        if (run === undefined) throw new HttpError(404, `run ${rest[0] as string}: no run has this id`)
        send(res, 200, run)
        return
      }
      throw new HttpError(404, `no such endpoint ${req.method ?? ''} ${url.pathname}`)
    })().catch((err: unknown) => {
      const status = err instanceof HttpError
        ? err.status
        : typeof (err as { status?: unknown }).status === 'number'
          ? (err as { status: number }).status
          : ['RunNotFoundError', 'ContentNotFoundError'].includes((err as Error).name) ? 404 : (err instanceof UserError ? 400 : 500)
      const message = err instanceof Error ? err.message : String(err)
      if (!res.headersSent) send(res, status, { error: message })
      else res.destroy()
    })
  })
  server.keepAliveTimeout = 5000
  const host = init.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port, host, () => { server.off('error', reject); resolve() })
  })
  const address = server.address() as AddressInfo
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${shown}:${address.port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}
