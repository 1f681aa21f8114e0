import { isUtf8 } from 'node:buffer'

/** Where a text is not what it must be: 1-based line and column (in UTF-16 units, as elsewhere). */
export interface EncodingFault {
  readonly line: number
  readonly column: number
  readonly message: string
}

/**
 * Decodes bytes as strict UTF-8: the text, or where the first invalid byte is. A byte order mark
 * is kept as the text's first character (the YAML parser skips it).
 */
export function decodeUtf8 (bytes: Uint8Array): { text: string } | { fault: EncodingFault } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (isUtf8(buffer)) return { text: buffer.toString('utf8') }
  const offset = firstInvalidByte(buffer)
  const lineStart = buffer.lastIndexOf(0x0a, offset - 1) + 1
  let line = 1
  for (let i = buffer.indexOf(0x0a); i !== -1 && i < offset; i = buffer.indexOf(0x0a, i + 1)) line++
  const column = buffer.subarray(lineStart, offset).toString('utf8').length + 1
  const byte = (buffer[offset] ?? 0).toString(16).padStart(2, '0')
  const utf16 = offset === 0 && (buffer[0] === 0xff || buffer[0] === 0xfe) && (buffer[1] === 0xfe || buffer[1] === 0xff)
  return {
    fault: {
      line,
      column,
      message: `the file is not valid UTF-8: byte 0x${byte} here is not part of a character; ${utf16 ? 'it looks like UTF-16: save' : 'save'} it as UTF-8`
    }
  }
}

/** The offset of the first byte that does not belong to a well-formed UTF-8 sequence. */
function firstInvalidByte (b: Buffer): number {
  let i = 0
  while (i < b.length) {
    const c = b[i] as number
    if (c < 0x80) { i++; continue }
    let need: number
    let min = 0x80
    let max = 0xbf
    if (c >= 0xc2 && c <= 0xdf) need = 1
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2
      if (c === 0xe0) min = 0xa0
      if (c === 0xed) max = 0x9f
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3
      if (c === 0xf0) min = 0x90
      if (c === 0xf4) max = 0x8f
    } else return i
    for (let k = 1; k <= need; k++) {
      const next = b[i + k]
      // the first continuation byte has the narrowed range (no overlongs, surrogates, > U+10FFFF)
      if (next === undefined || next < (k === 1 ? min : 0x80) || next > (k === 1 ? max : 0xbf)) return i
    }
    i += need + 1
  }
  return b.length
}

/**
 * Where a string holds a lone surrogate (text that came from JSON such as `"\ud800"` is not
 * Unicode); undefined when it is well formed.
 */
export function loneSurrogate (text: string): EncodingFault | undefined {
  const wellFormed = (text as { isWellFormed?: () => boolean }).isWellFormed?.()
  if (wellFormed === true) return undefined
  const match = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(text)
  if (match === null) return undefined
  const before = text.slice(0, match.index)
  const lineStart = before.lastIndexOf('\n') + 1
  return {
    line: before.split('\n').length,
    column: match.index - lineStart + 1,
    message: `the text is not valid Unicode: U+${match[0].charCodeAt(0).toString(16).toUpperCase()} is half of a surrogate pair, not a character`
  }
}
