import type { IncomingMessage } from 'node:http'
import { Refusal } from './access.js'

/** Bytes one request body may hold. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
/** Bytes all request bodies being read or decoded at once may hold together. */
export const DEFAULT_MAX_BODIES_BYTES = 192 * 1024 * 1024

/**
 * The bytes of request bodies held at once, across every request: a body is admitted only while
 * the total stays under the budget; the rest are told to come back (503), so many large requests
 * at once cannot take the node's memory.
 */
export class BodyBudget {
  private used = 0
  constructor (readonly total: number) {}

  /** Takes `bytes` from the budget, or returns false when they do not fit now. */
  take (bytes: number): boolean {
    if (this.used + bytes > this.total) return false
    this.used += bytes
    return true
  }

  give (bytes: number): void {
    this.used = Math.max(0, this.used - bytes)
  }
}

/** A body read whole, holding its share of the budget until `release()`. */
export interface HeldBody {
  readonly bytes: Buffer
  release: () => void
}

/**
 * Reads a request body of at most `limit` bytes (413 beyond, as soon as the size is known),
 * holding its bytes in `budget` until released (503 with Retry-After while the budget is spent).
 */
export async function readBody (req: IncomingMessage, limit: number, budget: BodyBudget): Promise<HeldBody> {
  const header = req.headers['content-length']
  const declared = header === undefined ? undefined : Number(header)
  if (declared !== undefined && (!Number.isSafeInteger(declared) || declared < 0)) throw new Refusal(400, `Content-Length '${header ?? ''}' is not a size`)
  // too large to be read at all: answered, and the connection closed rather than drained
  if (declared !== undefined && declared > limit) throw new Refusal(413, `the body is ${declared} bytes; at most ${limit} are taken in one request (split the batch)`, { connection: 'close' })
  let held = 0
  const hold = (bytes: number): void => {
    if (!budget.take(bytes)) {
      budget.give(held)
      held = 0
      throw new Refusal(503, 'the node is reading other large requests right now; send this one again in a moment', { 'retry-after': '1' })
    }
    held += bytes
  }
  if (declared !== undefined) hold(declared)
  try {
    // with a declared size the body is read straight into its buffer: no second copy at the end
    const whole = declared !== undefined ? Buffer.allocUnsafe(declared) : undefined
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req) {
      const piece = chunk as Buffer
      if (whole !== undefined) piece.copy(whole, size)
      else chunks.push(piece)
      size += piece.length
      if (size > limit) throw new Refusal(413, `the body is over ${limit} bytes; at most ${limit} are taken in one request (split the batch)`, { connection: 'close' })
      if (declared === undefined) hold(piece.length)
    }
    const bytes = whole !== undefined ? whole.subarray(0, size) : Buffer.concat(chunks, size)
    let released = false
    return {
      bytes,
      release: () => {
        if (released) return
        released = true
        budget.give(held)
      }
    }
  } catch (err) {
    budget.give(held)
    throw err
  }
}
