import { createWriteStream, type WriteStream } from 'node:fs'

/**
 * A log file that keeps at most `maxBytes` and counts the rest. Writing never throws; `close()`
 * resolves once everything kept is on disk.
 */
export class CappedLog {
  private readonly stream: WriteStream
  private kept = 0
  total = 0
  truncated = false

  constructor (file: string, private readonly maxBytes: number) {
    this.stream = createWriteStream(file, { flags: 'w' })
    this.stream.on('error', () => { /* surfaced by close() */ })
  }

  write (chunk: Buffer): void {
    this.total += chunk.length
    if (this.truncated) return
    const room = this.maxBytes - this.kept
    if (chunk.length <= room) {
      this.kept += chunk.length
      this.stream.write(chunk)
      return
    }
    this.stream.write(chunk.subarray(0, room))
    this.stream.write(`\n[bac: log cut at ${this.maxBytes} bytes; the rest was not kept]\n`)
    this.kept = this.maxBytes
    this.truncated = true
  }

  async close (): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.stream.end((err?: Error | null) => { if (err != null) reject(err); else resolve() })
    })
  }
}
