import { randomUUID } from 'node:crypto'
import { parseUntrustedJson } from '../common/json.js'
import { printable } from '../common/text.js'
import type { RunEvent } from '../interfaces/engine.js'
import { ApiError, NotAFolderError, UnsafeContentError } from '../interfaces/errors.js'
import type { MessageBatch, RunRequest } from '../interfaces/node.js'

/** How `postMessages` encodes rows: JSON, NDJSON, or an Apache Arrow IPC stream. */
export type MessageFormat = 'json' | 'ndjson' | 'arrow'

/** A node the CLI talks to: its API's base URL, and the token its requests carry. */
export interface NodeTarget {
  readonly url: string
  readonly token?: string
}

/** A request's URL on a node and its headers, with the node's token. */
function request (node: NodeTarget, path: string, headers: Readonly<Record<string, string>> = {}): { url: string, headers: Record<string, string> } {
  return {
    url: `${node.url.replace(/\/$/, '')}${path}`,
    headers: { ...headers, ...(node.token !== undefined ? { authorization: `Bearer ${node.token}` } : {}) }
  }
}

/**
 * `fetch`, once more when a GET found its kept-alive connection closed by the node just as it was
 * reused (undici: "other side closed"): nothing was answered, and a GET may be sent again.
 */
async function fetchAgainOnReset (url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init)
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code
    // a GET may be sent again; so may a request with an idempotency key, which the node answers once
    const again = (init.method ?? 'GET') === 'GET' || new Headers(init.headers).has('idempotency-key')
    if (!again || typeof init.body === 'object' && init.body !== null && !(init.body instanceof Uint8Array) || (code !== 'UND_ERR_SOCKET' && code !== 'ECONNRESET')) throw err
    return await fetch(url, init)
  }
}

/** A request's response, or one line saying that no node answers at that address. */
async function reach (url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetchAgainOnReset(url, init)
  } catch (err) {
    const inner = (err as { cause?: { code?: string, message?: string } }).cause
    const cause = inner?.code ?? inner?.message ?? (err instanceof Error ? err.message : String(err))
    throw new ApiError(`no bac node answers at ${new URL(url).origin} (${cause}); start one with bac serve, or give --node <url>`)
  }
}

async function call (url: string, init: RequestInit): Promise<unknown> {
  return await jsonAnswer(await reach(url, init), url)
}

/** A GET of a JSON answer on a node. */
async function getJson (node: NodeTarget, path: string): Promise<unknown> {
  const { url, headers } = request(node, path)
  return await call(url, { method: 'GET', headers })
}

/** A node's JSON answer, bounded and parsed; a refusal says what the node answered. */
async function jsonAnswer (res: Response, url: string): Promise<unknown> {
  const text = await boundedText(res, MAX_ANSWER_BYTES, url)
  let body: unknown
  try {
    body = parseUntrustedJson(text, 'the answer', ANSWER_DEPTH)
  } catch {
    throw new ApiError(`${new URL(url).origin} did not answer as a bac node (HTTP ${res.status}: ${printable(text, 200)})`, res.status)
  }
  if (!res.ok) throw refusal(res.status, printable(String((body as { error?: unknown }).error ?? `HTTP ${res.status}`), 2000))
  return body
}

/** How deeply a node's answer may nest: a message row may nest 64 levels, and the run around it a few more. */
const ANSWER_DEPTH = 128

/** The most a JSON answer (or one NDJSON line) of a node may hold: a run with every attempt is far less. */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024

/** An answer's text, read up to `max` bytes: a node that sends more is not a bac node, and is not read on. */
async function boundedText (res: Response, max: number, url: string): Promise<string> {
  const pieces: Uint8Array[] = []
  let size = 0
  if (res.body !== null) {
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      size += piece.length
      if (size > max) {
        await res.body.cancel().catch(() => {})
        throw new ApiError(`${new URL(url).origin} sent an answer over ${max} bytes; a bac node does not`)
      }
      pieces.push(piece)
    }
  }
  return new TextDecoder().decode(Buffer.concat(pieces, size))
}

/** What a node's refusal tells the user; a 401 says where the token comes from. */
function refusal (status: number, reason: string): ApiError {
  const hint = status === 401 ? ' (give the node\'s token with --token or $BAC_TOKEN; on its machine, bac reads it from <data-dir>/api.json)' : ''
  return new ApiError(`the node refused: ${reason}${hint}`, status)
}

/** Encodes rows as a request body of the given format, with its content type. */
export async function encodeMessages (rows: ReadonlyArray<Readonly<Record<string, unknown>>>, format: MessageFormat): Promise<{ body: Uint8Array, contentType: string }> {
  switch (format) {
    case 'json':
      return { body: Buffer.from(JSON.stringify(rows)), contentType: 'application/json' }
    case 'ndjson':
      return { body: Buffer.from(rows.map((r) => `${JSON.stringify(r)}\n`).join('')), contentType: 'application/x-ndjson' }
    case 'arrow': {
      const { tableFromJSON, tableToIPC } = await import('apache-arrow')
      return { body: tableToIPC(tableFromJSON(rows.map((r) => ({ ...r }))), 'stream'), contentType: 'application/vnd.apache.arrow.stream' }
    }
  }
}

/**
 * The calls below are the HTTP API's routes, one each. Their answers are the node's, unchecked
 * (`unknown`): `httpNode` checks each before it is used.
 */

/** Posts a batch of messages to a node's topic; resolves once every run is recorded there. */
export async function postMessages (node: NodeTarget, topic: string, batch: MessageBatch): Promise<unknown> {
  const { url, headers } = request(
    node,
    `/api/v1/messages/${topic.split('/').map(encodeURIComponent).join('/')}`,
    { 'content-type': batch.contentType, ...(batch.key !== undefined ? { 'idempotency-key': batch.key } : {}) }
  )
  return await call(url, { method: 'POST', body: batch.body, headers })
}

/** A run as a node's API shows it (the run record, its steps and attempts). */
export async function fetchRun (node: NodeTarget, id: string): Promise<unknown> {
  return await getJson(node, `/api/v1/runs/${encodeURIComponent(id)}`)
}

/** Starts a run on a node (see the API's `RunRequest`); its answer names the run once the node has recorded it. */
export async function startRun (node: NodeTarget, run: RunRequest): Promise<unknown> {
  // with a key of its own, so that sending it again (a connection reset on the way) starts one run
  const { url, headers } = request(node, '/api/v1/runs', { 'content-type': 'application/json', 'idempotency-key': randomUUID() })
  return await call(url, { method: 'POST', body: JSON.stringify(run), headers })
}

/** A GET whose answer is streamed; a refusal says what the node answered. */
async function stream (node: NodeTarget, path: string, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
  const { url, headers } = request(node, path)
  const res = await reach(url, { headers, ...(signal !== undefined ? { signal } : {}) })
  if (!res.ok || res.body === null) {
    const text = await boundedText(res, 64 * 1024, url).catch(() => '')
    let reason = text.slice(0, 300)
    try { reason = String((parseUntrustedJson(text, 'the answer') as { error?: unknown }).error ?? reason) } catch {}
    throw refusal(res.status, printable(reason, 2000))
  }
  return wentAway(res.body as unknown as AsyncIterable<Uint8Array>, new URL(url).origin, signal)
}

/**
 * A node's streamed answer, where the node going away mid-answer (killed, restarted, the
 * connection cut) is one line naming it, never an internal error.
 */
async function * wentAway (body: AsyncIterable<Uint8Array>, origin: string, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  try {
    yield * body
  } catch (err) {
    if (signal?.aborted === true) throw err
    const inner = (err as { cause?: { code?: string, message?: string } }).cause
    throw new ApiError(`the bac node at ${origin} went away before it finished answering (${inner?.code ?? inner?.message ?? (err as Error).message}); is it still running?`)
  }
}

/** An NDJSON answer, line by line, until it ends. */
async function * readNdjson (node: NodeTarget, path: string, signal?: AbortSignal): AsyncGenerator<unknown> {
  yield * lines(await stream(node, path, signal), node)
}

/** The values of an NDJSON body, line by line. */
async function * lines (body: AsyncIterable<Uint8Array>, node: NodeTarget): AsyncGenerator<unknown> {
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true })
    let nl: number
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      if (line.trim() !== '') yield parseUntrustedJson(line, 'a line of the node\'s answer', ANSWER_DEPTH)
    }
    if (buffered.length > MAX_ANSWER_BYTES) throw new ApiError(`${node.url} sent a line over ${MAX_ANSWER_BYTES} bytes; a bac node does not`)
  }
}

/** A run's events on a node until its end (the last event is its `run:end`). */
export function followRun (node: NodeTarget, id: string, signal?: AbortSignal): AsyncGenerator<unknown> {
  return readNdjson(node, `/api/v1/runs/${encodeURIComponent(id)}/events`, signal)
}

/** A node's runs, newest first (with `cid`: those that produced it, as their result or a step's outputs). */
export async function listRuns (node: NodeTarget, options: { limit?: number, before?: string, cid?: string } = {}): Promise<unknown> {
  const query = new URLSearchParams()
  if (options.limit !== undefined) query.set('limit', String(options.limit))
  if (options.before !== undefined) query.set('before', options.before)
  if (options.cid !== undefined) query.set('cid', options.cid)
  return await getJson(node, `/api/v1/runs?${query.toString()}`)
}

/** What a run's steps printed on a node, chunk by chunk (`follow`: as it is printed, until the run ends). */
export async function fetchLogs (node: NodeTarget, id: string, options: { step?: string, follow?: boolean }, onChunk: (chunk: unknown) => void, signal?: AbortSignal): Promise<void> {
  const query = new URLSearchParams()
  if (options.step !== undefined) query.set('step', options.step)
  if (options.follow === true) query.set('follow', '1')
  for await (const chunk of readNdjson(node, `/api/v1/runs/${encodeURIComponent(id)}/logs?${query.toString()}`, signal)) onChunk(chunk)
}

/** A file's or folder's blocks on a node, as a CAR v1 stream (import it with `ContentStore.importCar`). */
export async function fetchContent (node: NodeTarget, cid: string, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
  return await stream(node, `/api/v1/content/${cid.split('/').map(encodeURIComponent).join('/')}`, signal)
}

/** Asks a node to cancel a run it runs or holds waiting; its answer names the run in full. */
export async function cancelRun (node: NodeTarget, id: string): Promise<unknown> {
  const { url, headers } = request(node, `/api/v1/runs/${encodeURIComponent(id)}/cancel`)
  return await call(url, { method: 'POST', headers })
}

/** What starts runs of the pipelines a node serves (`GET /api/v1/triggers`). */
export async function fetchTriggers (node: NodeTarget): Promise<unknown> {
  return await getJson(node, '/api/v1/triggers')
}

/** Every run's events on a node (`GET /api/v1/events`), from once the node has answered, until `signal` aborts. */
export async function watchEvents (node: NodeTarget, signal?: AbortSignal): Promise<AsyncGenerator<unknown>> {
  return lines(await stream(node, '/api/v1/events', signal), node)
}

/** A folder's entries in a node's store (`GET /api/v1/files/<cid>[/path]`); a file is a `NotAFolderError`. */
export async function fetchFolder (node: NodeTarget, path: string): Promise<unknown> {
  const target = request(node, `/api/v1/files/${path.split('/').map(encodeURIComponent).join('/')}`)
  const controller = new AbortController()
  const res = await reach(target.url, { headers: target.headers, signal: controller.signal })
  // a file answers with its bytes: not read
  if (res.ok && !(res.headers.get('content-type') ?? '').startsWith('application/json')) {
    controller.abort()
    throw new NotAFolderError(`${path} is a file, not a folder`)
  }
  return await jsonAnswer(res, target.url)
}

/** A dashboard login code from a node (`POST /api/v1/login-codes`, with its token): good once, for a minute. */
export async function requestLoginCode (node: NodeTarget): Promise<string> {
  const { url, headers } = request(node, '/api/v1/login-codes')
  const answer = await call(url, { method: 'POST', headers })
  const code = typeof answer === 'object' && answer !== null ? (answer as { code?: unknown }).code : undefined
  if (typeof code !== 'string' || !/^[A-Za-z0-9_-]{16,128}$/.test(code)) throw new UnsafeContentError('the node\'s answer', 'is not a login code; nothing was opened')
  return code
}

/** Who a node is (`GET /api/v1/node`). */
export async function fetchInfo (node: NodeTarget): Promise<unknown> {
  return await getJson(node, '/api/v1/node')
}

/** The peers a node knows (`GET /api/v1/peers`). */
export async function fetchPeers (node: NodeTarget): Promise<unknown> {
  return await getJson(node, '/api/v1/peers')
}

/** Sends a CAR stream to a node's store (`POST /api/v1/content`); the CAR's roots, as the node stored them. */
export async function postContent (node: NodeTarget, car: AsyncIterable<Uint8Array>): Promise<unknown> {
  const { url, headers } = request(node, '/api/v1/content', { 'content-type': 'application/vnd.ipld.car' })
  const body = ReadableStream.from(car)
  return await call(url, { method: 'POST', body, headers, duplex: 'half' } as RequestInit)
}

/** A run's signed provenance record on a node (the DSSE envelope, unchecked: verify it). */
export async function fetchProvenance (node: NodeTarget, id: string): Promise<unknown> {
  return await getJson(node, `/api/v1/runs/${encodeURIComponent(id)}/provenance`)
}

/** Whether a node works (`GET /api/v1/health`). */
export async function fetchHealth (node: NodeTarget): Promise<unknown> {
  return await getJson(node, '/api/v1/health')
}

const EVENTS = new Set(['run:start', 'step:start', 'step:log', 'step:end', 'run:end'])
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * A node's event, checked, with its words made printable (a step's own output stays as it
 * printed it): shown, never obeyed.
 */
export function asRunEvent (value: unknown): RunEvent {
  if (!isObject(value) || typeof value.type !== 'string' || !EVENTS.has(value.type) || typeof value.runId !== 'string') {
    throw new UnsafeContentError('the node\'s answer', 'gives an event that is not a run\'s; nothing was done with it')
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeof v === 'string' && k !== 'text' ? printable(v, 4000) : v])) as RunEvent
}
