import type { Stream } from '@libp2p/interface'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { parseUntrustedJson } from '../common/json.js'

/** Frames larger than this are refused (a task carries its step and values, never content). */
export const MAX_FRAME = 8 * 1024 * 1024

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** JSON messages on a stream, each prefixed by its length (unsigned varint), as bac's protocols speak. */
export class Frames<T extends { type: string }> {
  private readonly lp: LengthPrefixedStream<Stream>

  /** `maxBytes`: the largest frame read. @default MAX_FRAME */
  constructor (readonly stream: Stream, maxBytes = MAX_FRAME) {
    this.lp = lpStream(stream, { maxDataLength: maxBytes })
  }

  async send (frame: T): Promise<void> {
    await this.lp.write(encoder.encode(JSON.stringify(frame)))
  }

  /** The next frame; rejects when the stream ends or carries something that is not a frame. */
  async next (signal?: AbortSignal): Promise<T> {
    const bytes = await this.lp.read(signal !== undefined ? { signal } : {})
    // a peer's JSON, depth-checked before it is parsed: what a frame holds is walked afterwards
    const value = parseUntrustedJson(decoder.decode(bytes.subarray()), 'the peer\'s frame')
    if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') throw new Error('the peer sent a message that is not a bac frame')
    return value as T
  }
}
