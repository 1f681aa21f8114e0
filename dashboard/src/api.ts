/**
 * The node's API, as the dashboard's own page calls it: with the session this tab logged in with
 * (kept in localStorage, which is this origin's alone: this node's port, no other of the machine), as a bearer token.
 */

const SESSION = 'bac-session'

function headers (extra: Record<string, string> = {}): Record<string, string> {
  const session = localStorage.getItem(SESSION)
  return { ...extra, ...(session !== null ? { authorization: `Bearer ${session}` } : {}) }
}

/**
 * Logs in with the code in the address's fragment (`#login=<code>`), if there is one: the node
 * gives a session for it, and the code (good once) leaves the address bar.
 */
export async function login (): Promise<void> {
  const match = /^#login=([A-Za-z0-9_-]+)$/.exec(location.hash)
  if (match === null) return
  history.replaceState(null, '', '/#/')
  const res = await fetch('/api/v1/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: match[1] }) })
  if (!res.ok) throw await failure(res)
  localStorage.setItem(SESSION, (await res.json() as { session: string }).session)
}

/**
 * Downloads a file (`files/<cid>/…`) or a whole result (`content/<cid>`): the node gives a link
 * for that path alone, good for a minute (a link carries no header), which the browser then follows.
 */
export async function download (target: string, name: string): Promise<void> {
  const { url } = await get<{ url: string }>(`/api/v1/tickets?path=${encodeURIComponent(target)}`)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.append(a)
  a.click()
  a.remove()
}

/** The API refused: its status and its one line. */
export class ApiFailure extends Error {
  constructor (readonly status: number, message: string) { super(message) }
}

async function failure (res: Response): Promise<ApiFailure> {
  let message = `HTTP ${res.status}`
  try {
    const body = await res.json() as { error?: unknown }
    if (typeof body.error === 'string') message = body.error
  } catch {}
  return new ApiFailure(res.status, message)
}

export async function get<T> (path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { signal: signal ?? null, headers: headers({ accept: 'application/json' }) })
  if (!res.ok) throw await failure(res)
  return await res.json() as T
}

export async function post<T> (path: string): Promise<T> {
  const res = await fetch(path, { method: 'POST', headers: headers({ accept: 'application/json' }) })
  if (!res.ok) throw await failure(res)
  return await res.json() as T
}

/** Reads an NDJSON stream (a run's events, its logs, the node's events), calling `onValue` per line, until it ends or `signal` aborts. */
export async function stream<T> (path: string, onValue: (value: T) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(path, { signal, headers: headers() })
  if (!res.ok || res.body === null) throw await failure(res)
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  let buffered = ''
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      buffered += decoder.decode(value, { stream: true })
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        if (line.trim() !== '') onValue(JSON.parse(line) as T)
      }
    }
  } catch (err) {
    if (signal.aborted) return
    throw err
  }
}

/** At most `max` bytes of a file of the node's store: the rest is not read (the request is cut). */
export async function head (path: string, max: number): Promise<Uint8Array> {
  const controller = new AbortController()
  const res = await fetch(path, { signal: controller.signal, headers: headers() })
  if (!res.ok || res.body === null) throw await failure(res)
  const reader = res.body.getReader()
  const pieces: Uint8Array[] = []
  let size = 0
  while (size < max) {
    const { done, value } = await reader.read()
    if (done) break
    pieces.push(value)
    size += value.length
  }
  controller.abort()
  const bytes = new Uint8Array(Math.min(size, max))
  let at = 0
  for (const piece of pieces) {
    const part = piece.subarray(0, bytes.length - at)
    bytes.set(part, at)
    at += part.length
  }
  return bytes
}

/** A path of the API with each segment escaped. */
export function apiPath (...parts: string[]): string {
  return `/api/v1/${parts.map((p) => p.split('/').map(encodeURIComponent).join('/')).join('/')}`
}
