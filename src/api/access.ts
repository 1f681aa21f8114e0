import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import { networkInterfaces, hostname } from 'node:os'

/** Who may use the API: the token every request carries, and the names it may be reached by. */
export interface ApiAccess {
  /** The secret every request must carry as `Authorization: Bearer <token>`. */
  readonly token: string
  /** Host names (no port) requests may address besides loopback names and the listening address. */
  readonly hosts?: readonly string[]
}

/** A request the API refuses before routing it: its status and the one line that says why. */
export class Refusal extends Error {
  constructor (readonly status: number, message: string, readonly headers: Readonly<Record<string, string>> = {}) { super(message) }
}

/** Names every request may address this node by, when it listens on loopback. */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1']

/** Whether a host (no port, IPv6 without brackets) is a loopback name or address. */
export function isLoopbackHost (host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '')
  return LOOPBACK_NAMES.includes(name) || name.endsWith('.localhost') || (isIP(name) === 4 && name.startsWith('127.'))
}

/** Splits a Host header (`name:port`, `[v6]:port`, or a name alone) into its parts; undefined when it does not parse. */
export function parseHost (header: string): { name: string, port?: number } | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(header.trim())
  if (match === null) return undefined
  const name = (match[1] ?? match[2] ?? '').toLowerCase().replace(/\.$/, '')
  if (name === '') return undefined
  return match[3] === undefined ? { name } : { name, port: Number(match[3]) }
}

/**
 * The checks every request passes before it reaches a handler, in this order:
 * 1. `Host` names this node: a loopback name, the listening address, one of `hosts`, or (when it
 *    listens on every interface) an address of this machine or its host name. A page on another
 *    site whose name was pointed at 127.0.0.1 (DNS rebinding) sends its own name and is refused.
 * 2. An `Origin`, when a browser sent one, is this node's own: a page on any other site (or
 *    another port of this machine) is refused. No CORS header is ever sent, so browsers keep
 *    such pages from reading any answer.
 * 3. A bearer token: the node's token (programs), compared in constant time, or a dashboard
 *    session (`sessions.ts`), which may look and cancel but not start runs. No cookie is ever
 *    taken: a browser sends a cookie of 127.0.0.1 to every port of it, so any local server a page
 *    sends the browser to would get it.
 */
export class AccessCheck {
  private readonly token: Buffer
  private readonly names: Set<string>
  private readonly anyAddress: boolean

  constructor (access: ApiAccess, private readonly listen: { host: string, port: number }) {
    this.token = Buffer.from(access.token)
    const host = listen.host.toLowerCase().replace(/^\[(.*)\]$/, '$1')
    this.anyAddress = host === '0.0.0.0' || host === '::'
    this.names = new Set([host, ...(access.hosts ?? []).map((h) => h.toLowerCase())])
    if (this.anyAddress) {
      this.names.add(hostname().toLowerCase())
      for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) this.names.add(a.address.toLowerCase())
    }
  }

  /** The port the API listens on, once it is known (port 0 picks one). */
  set port (port: number) { this.listen.port = port }

  /** Throws a `Refusal` unless the request may reach a handler: its place (Host, Origin), then its token. */
  check (req: IncomingMessage): void {
    this.checkPlace(req)
    this.checkToken(req)
  }

  /** Throws a `Refusal` unless the request names this node and comes from no other web origin (what a dashboard page needs, before its login). */
  checkPlace (req: IncomingMessage): void {
    const header = req.headers.host
    if (header === undefined || header === '') throw new Refusal(400, 'the request has no Host header')
    const host = parseHost(header)
    const port = this.listen.port
    if (host === undefined || (host.port ?? 80) !== port || !(isLoopbackHost(host.name) || this.names.has(host.name))) {
      throw new Refusal(403, `Host '${header}' is not this node's address (${this.shown()}): refused, as a page on another site that points its name at this machine would be`)
    }
    const origin = req.headers.origin
    if (origin !== undefined && !this.sameOrigin(origin)) {
      throw new Refusal(403, `a request from ${origin === 'null' ? 'an opaque origin' : origin} (a web page) is refused: only programs and this node's own pages may use its API`)
    }
    const fetchSite = req.headers['sec-fetch-site']
    if (fetchSite === 'cross-site' || fetchSite === 'same-site') throw new Refusal(403, `a ${fetchSite} request (a web page on another site) is refused`)
  }

  /**
   * Throws a `Refusal` unless the request carries this node's token or a dashboard session; says
   * which (`token`: anything; `session`: what the dashboard does).
   */
  checkToken (req: IncomingMessage, sessions?: { isSession: (token: string) => boolean }): 'token' | 'session' {
    const presented = bearer(req.headers.authorization)
    if (presented === undefined) {
      const reason = 'this node\'s API needs its token: bac finds it in <data-dir>/api.json on this machine; elsewhere give --token or $BAC_TOKEN'
      throw new Refusal(401, reason, { 'www-authenticate': 'Bearer realm="bac"' })
    }
    if (this.matches(presented)) return 'token'
    if (sessions?.isSession(presented) === true) return 'session'
    throw new Refusal(401, 'the token is not this node\'s (see <data-dir>/api.json on its machine)', { 'www-authenticate': 'Bearer realm="bac", error="invalid_token"' })
  }

  /** Whether `token` is this node's, in constant time. */
  matches (token: string): boolean {
    const given = Buffer.from(token)
    return given.length === this.token.length && timingSafeEqual(given, this.token)
  }

  private sameOrigin (origin: string): boolean {
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      return false
    }
    if (url.protocol !== 'http:' || url.username !== '' || url.pathname !== '/' || url.search !== '') return false
    const name = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1')
    return Number(url.port === '' ? 80 : url.port) === this.listen.port && (isLoopbackHost(name) || this.names.has(name))
  }

  private shown (): string {
    const [first] = [...this.names]
    const host = this.anyAddress || first === undefined ? '127.0.0.1' : first
    return `${host.includes(':') ? `[${host}]` : host}:${this.listen.port} or a loopback name`
  }
}

/** The token of an `Authorization: Bearer <token>` header. */
function bearer (header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header ?? '')
  return match?.[1]
}
