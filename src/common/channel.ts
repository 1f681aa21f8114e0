/**
 * Values pushed by one side and read by the other as an `AsyncIterable`, in order: what a run's
 * events become when the code that produces them takes a callback. Read once; values pushed
 * before the reader comes are kept for it (a run's events are bounded by the run).
 */
export class Channel<T> implements AsyncIterable<T> {
  private readonly queue: T[] = []
  private ended: { readonly error?: unknown, readonly failed: boolean } | undefined
  private wake: (() => void) | undefined
  private taken = false

  /** Values pushed and not yet read. */
  get buffered (): number { return this.queue.length }

  push (value: T): void {
    if (this.ended !== undefined) return
    this.queue.push(value)
    this.wake?.()
  }

  /** No more values: the reader finishes once it has read those buffered. */
  end (): void {
    this.ended ??= { failed: false }
    this.wake?.()
  }

  /** The reader throws `error` once it has read those buffered. */
  fail (error: unknown): void {
    this.ended ??= { error, failed: true }
    this.wake?.()
  }

  async * [Symbol.asyncIterator] (): AsyncIterator<T> {
    if (this.taken) throw new Error('a channel is read once')
    this.taken = true
    for (;;) {
      const next = this.queue.shift()
      if (next !== undefined) {
        yield next
        continue
      }
      if (this.ended !== undefined) {
        if (this.ended.failed) throw this.ended.error
        return
      }
      await new Promise<void>((resolve) => { this.wake = resolve })
      this.wake = undefined
    }
  }
}
