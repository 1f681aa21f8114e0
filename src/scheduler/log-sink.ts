import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import path from 'node:path'
import type { LogChunk } from '../interfaces/executor.js'

/** Bytes of each stream kept on disk for a step that ran on a peer; the peer keeps its own full logs. */
const MAX_BYTES = 16 * 1024 * 1024

/**
 * Keeps the log lines a peer streams back in this node's logs folder (`stdout.log`,
 * `stderr.log`), as a local step's executor would, so `bac job logs` reads them the same way.
 */
export class LogSink {
  private readonly streams = new Map<string, { out: WriteStream, bytes: number }>()

  constructor (readonly dir: string) {}

  write (chunk: LogChunk): void {
    let s = this.streams.get(chunk.stream)
    if (s === undefined) {
      mkdirSync(this.dir, { recursive: true })
      s = { out: createWriteStream(path.join(this.dir, `${chunk.stream}.log`)), bytes: 0 }
      this.streams.set(chunk.stream, s)
    }
    if (s.bytes >= MAX_BYTES) return
    const bytes = Buffer.from(chunk.text)
    const kept = bytes.subarray(0, MAX_BYTES - s.bytes)
    s.bytes += kept.length
    s.out.write(kept)
  }

  async close (): Promise<void> {
    await Promise.all([...this.streams.values()].map(async (s) => await new Promise<void>((resolve) => s.out.end(resolve))))
    this.streams.clear()
  }
}
