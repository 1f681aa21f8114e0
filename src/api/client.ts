import { UserError } from '../interfaces/errors.js'

/** How `postMessages` encodes rows: JSON, NDJSON, or an Apache Arrow IPC stream. */
export type MessageFormat = 'json' | 'ndjson' | 'arrow'

/** The API's answer to a batch: the runs it queued, one per row and pipeline on the topic. */
export interface PostedBatch {
  readonly topic: string
  readonly runs: ReadonlyArray<{ readonly id: string, readonly pipeline: string, readonly row: number }>
  readonly duplicate: boolean
}

/** A call to a node's API failed; the message says what the node answered, or that none did. */
export class ApiError extends UserError {
  readonly status: number | undefined
  constructor (message: string, status?: number) {
    super(message)
    this.status = status
  }
}

async function call (url: string, init: RequestInit): Promise<unknown> {
  let res: Response
  try {
    res = await fetch(url, init)
  } catch (err) {
    const inner = (err as { cause?: { code?: string, message?: string } }).cause
    const cause = inner?.code ?? inner?.message ?? (err instanceof Error ? err.message : String(err))
    throw new ApiError(`no bac node answers at ${new URL(url).origin} (${cause}); start one with bac serve, or give --node <url>`)
  }
  const text = await res.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new ApiError(`${new URL(url).origin} did not answer as a bac node (HTTP ${res.status}: ${text.slice(0, 200)})`, res.status)
  }
  if (!res.ok) throw new ApiError(`the node refused: ${String((body as { error?: unknown }).error ?? `HTTP ${res.status}`)}`, res.status)
  return body
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

/** Posts a batch of messages to a node's topic; resolves once every run is recorded there. */
export async function postMessages (nodeUrl: string, topic: string, body: { body: Uint8Array, contentType: string }, options: { key?: string } = {}): Promise<PostedBatch> {
  const url = `${nodeUrl.replace(/\/$/, '')}/api/v1/messages/${topic.split('/').map(encodeURIComponent).join('/')}`
  return await call(url, {
    method: 'POST',
    body: body.body,
    headers: { 'content-type': body.contentType, ...(options.key !== undefined ? { 'idempotency-key': options.key } : {}) }
  }) as PostedBatch
}

/** A run as a node's API shows it (the run record and its steps). */
export async function fetchRun (nodeUrl: string, id: string): Promise<Record<string, unknown> & { status: string, resultCid?: string, reason?: string }> {
  return await call(`${nodeUrl.replace(/\/$/, '')}/api/v1/runs/${encodeURIComponent(id)}`, { method: 'GET' }) as Record<string, unknown> & { status: string }
}

/** Starts a run of a pipeline file on a node; resolves with its id once the node has recorded it. */
export async function startRun (nodeUrl: string, request: { pipeline: string, cwd: string, inputs?: Readonly<Record<string, string>>, outputsDir?: string, noCache?: boolean, concurrency?: number }): Promise<{ runId: string }> {
  return await call(`${nodeUrl.replace(/\/$/, '')}/api/v1/runs`, { method: 'POST', body: JSON.stringify(request), headers: { 'content-type': 'application/json' } }) as { runId: string }
}

/** Follows a run's events on a node until its end (the last event is its `run:end`). */
export async function followRun (nodeUrl: string, id: string, onEvent: (event: Record<string, unknown> & { type: string }) => void): Promise<void> {
  const url = `${nodeUrl.replace(/\/$/, '')}/api/v1/runs/${encodeURIComponent(id)}/events`
  let res: Response
  try {
    res = await fetch(url)
  } catch (err) {
    throw new ApiError(`no bac node answers at ${new URL(url).origin} (${(err as Error).message})`)
  }
  if (!res.ok || res.body === null) throw new ApiError(`the node refused: HTTP ${res.status} ${await res.text()}`, res.status)
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true })
    let nl: number
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      if (line.trim() !== '') onEvent(JSON.parse(line) as Record<string, unknown> & { type: string })
    }
  }
}

/** Asks a node to cancel a run it runs. */
export async function cancelRun (nodeUrl: string, id: string): Promise<void> {
  await call(`${nodeUrl.replace(/\/$/, '')}/api/v1/runs/${encodeURIComponent(id)}/cancel`, { method: 'POST' })
}

/** The peers a node knows, and the node itself. */
export async function fetchPeers (nodeUrl: string): Promise<{ node: Record<string, unknown>, peers: Array<Record<string, unknown>> }> {
  const base = nodeUrl.replace(/\/$/, '')
  const [node, peers] = await Promise.all([call(`${base}/api/v1/node`, { method: 'GET' }), call(`${base}/api/v1/peers`, { method: 'GET' })])
  return { node: node as Record<string, unknown>, peers: peers as Array<Record<string, unknown>> }
}
