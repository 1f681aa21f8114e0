import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** How long a login code printed by `bac serve` stays good (used once at most). */
export const SERVE_CODE_MS = 10 * 60_000
/** How long a login code `bac dashboard` asks for stays good (used once at most). */
export const DASHBOARD_CODE_MS = 60_000
/** How long a dashboard session lasts. */
const SESSION_MS = 12 * 3600_000
/** How long a download link stays good. */
const TICKET_MS = 60_000
/** Codes and sessions held at most; the oldest go first. */
const MAX_CODES = 64
const MAX_SESSIONS = 256

const digest = (secret: string): string => createHash('sha256').update(secret).digest('hex')

/** Drops what has expired, then the oldest beyond `max`. */
function prune (map: Map<string, number>, max: number, now: number): void {
  for (const [key, expires] of map) if (expires <= now) map.delete(key)
  while (map.size > max) map.delete(map.keys().next().value as string)
}

/**
 * The dashboard's logins, none of which is the API token. A login code (printed by `bac serve`,
 * or made by `bac dashboard` with the token) is good once, for minutes; the page trades it for a
 * session, which it keeps in its origin's localStorage (one origin, this node's port: unlike a
 * cookie, no other port of the machine sees it) and sends as a bearer token. A session may look
 * at the node and cancel runs, not start them. A download link names one path and lasts a minute
 * (a link cannot carry a header). All of it is held in memory: a restart logs the dashboard out.
 */
export class DashboardSessions {
  private readonly codes = new Map<string, number>()
  private readonly sessions = new Map<string, number>()
  private readonly key = randomBytes(32)

  constructor (private readonly now: () => number = Date.now) {}

  /** A new login code, good once until `ttlMs` from now. */
  code (ttlMs: number): { code: string, expiresAt: number } {
    const code = randomBytes(24).toString('base64url')
    const expiresAt = this.now() + ttlMs
    this.codes.set(digest(code), expiresAt)
    prune(this.codes, MAX_CODES, this.now())
    return { code, expiresAt }
  }

  /** A session for a good login code (which is then spent); undefined for any other. */
  redeem (code: string): { session: string, expiresAt: number } | undefined {
    const key = digest(code)
    const expires = this.codes.get(key)
    this.codes.delete(key)
    if (expires === undefined || expires <= this.now()) return undefined
    const session = randomBytes(32).toString('base64url')
    const expiresAt = this.now() + SESSION_MS
    this.sessions.set(digest(session), expiresAt)
    prune(this.sessions, MAX_SESSIONS, this.now())
    return { session, expiresAt }
  }

  /** Whether `token` is a live session (looked up by its hash: no timing says how much of it matched). */
  isSession (token: string): boolean {
    const expires = this.sessions.get(digest(token))
    return expires !== undefined && expires > this.now()
  }

  /** A download link's ticket for one API path (`files/<cid>/…` or `content/<cid>`). */
  ticket (path: string): string {
    const expires = this.now() + TICKET_MS
    return `${expires}.${this.sign(path, expires)}`
  }

  /** Whether `ticket` was made for `path` and has not expired. */
  checkTicket (path: string, ticket: string): boolean {
    const match = /^(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(ticket)
    if (match === null) return false
    const expires = Number(match[1])
    if (expires <= this.now()) return false
    const want = Buffer.from(this.sign(path, expires))
    const given = Buffer.from(match[2] ?? '')
    return want.length === given.length && timingSafeEqual(want, given)
  }

  private sign (path: string, expires: number): string {
    return createHmac('sha256', this.key).update(`${path}\n${expires}`).digest('base64url')
  }
}
