import type { Stream } from '@libp2p/interface'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'

/** Frames larger than this are refused (a task carries its step and values, never content). */
export const MAX_FRAME = 8 * 1024 * 1024

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** JSON messages on a stream, each prefixed by its length (unsigned varint), as bac's protocols speak. */
export class Frames<T extends { type: string }> {
  private readonly lp: LengthPrefixedStream<Stream>

  constructor (readonly stream: Stream) {
    this.lp = lpStream(stream, { maxDataLength: MAX_FRAME })
  }

  async send (frame: T): Promise<void> {
    await this.lp.write(encoder.encode(JSON.stringify(frame)))
  }

  /** The next frame; rejects when the stream ends or carries something that is not a frame. */
  async next (signal?: AbortSignal): Promise<T> {
    const bytes = await this.lp.read(signal !== undefined ? { signal } : {})
    const value = JSON.parse(decoder.decode(bytes.subarray())) as unknown
    if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') throw new Error('the peer sent a message that is not a bac frame')
    return value as T
  }
}
