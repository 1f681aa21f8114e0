import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import path from 'node:path'

/**
 * A log file that keeps at most `maxBytes` and counts the rest. The file (and its folder) is made
 * on the first byte, so a step that prints nothing costs no file; readers treat a missing log as
 * empty. Writing never throws; `close()` resolves once everything kept is on disk.
 */
export class CappedLog {
  private stream: WriteStream | undefined
  private kept = 0
  total = 0
  truncated = false

  constructor (private readonly file: string, private readonly maxBytes: number) {}

  private open (): WriteStream {
    if (this.stream === undefined) {
      let failure: Error | undefined
      try {
        mkdirSync(path.dirname(this.file), { recursive: true })
      } catch (err) {
        failure = err as Error
      }
      this.stream = createWriteStream(this.file, { flags: 'w' })
      this.stream.on('error', () => { /* surfaced by close() */ })
      if (failure !== undefined) this.stream.destroy(failure)
    }
    return this.stream
  }

  write (chunk: Buffer): void {
    this.total += chunk.length
    if (this.truncated) return
    const room = this.maxBytes - this.kept
    if (chunk.length <= room) {
      this.kept += chunk.length
      this.open().write(chunk)
      return
    }
    const stream = this.open()
    stream.write(chunk.subarray(0, room))
    stream.write(`\n[bac: log cut at ${this.maxBytes} bytes; the rest was not kept]\n`)
    this.kept = this.maxBytes
    this.truncated = true
  }

  async close (): Promise<void> {
    const stream = this.stream
    if (stream === undefined) return
    await new Promise<void>((resolve, reject) => {
      if (stream.destroyed) { reject(stream.errored ?? new Error(`cannot write ${this.file}`)); return }
      stream.end((err?: Error | null) => { if (err != null) reject(err); else resolve() })
    })
  }
}
