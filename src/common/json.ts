import { InvalidJsonError } from '../interfaces/errors.js'

/** How deeply JSON taken from outside may nest (objects and arrays); deeper is refused before it is parsed. */
export const MAX_JSON_DEPTH = 64

/**
 * How deeply `text` nests, stopping as soon as it passes `limit`: one pass over the characters,
 * outside strings, with no recursion (so `[[[[…` a million deep costs nothing but the scan).
 */
export function jsonDepthExceeds (text: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // a backslash skips the next character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true
    } else if (c === 0x7d || c === 0x5d) {
      depth--
    }
  }
  return false
}

/**
 * Parses JSON from outside (a request body, a message): refuses nesting deeper than `maxDepth`
 * (parsers and every recursive walk after them would run out of stack) with `InvalidJsonError`,
 * as it does text that is not JSON. `what` names the text in the message ("the body", "line 3").
 */
export function parseUntrustedJson (text: string, what: string, maxDepth = MAX_JSON_DEPTH): unknown {
  if (jsonDepthExceeds(text, maxDepth)) throw new InvalidJsonError(`${what} nests objects or arrays deeper than ${maxDepth} levels`)
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new InvalidJsonError(`${what} is not JSON: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`)
  }
}
