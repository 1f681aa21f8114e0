/**
 * Runs tasks at most `size` at once. `add` waits for a free place before it starts the task, so
 * whoever adds is held back (and holds nothing more) while the pool is full. The first failure
 * aborts the others through `signal` (which also follows the caller's) and is thrown by `check`,
 * `add` and `drain`.
 */
export class WritePool {
  private readonly running = new Set<Promise<void>>()
  private readonly controller = new AbortController()
  private failure: { error: unknown } | undefined
  /** Aborted on the first failure, or with the caller's signal. */
  readonly signal: AbortSignal

  constructor (private readonly size: number, signal?: AbortSignal) {
    this.signal = signal === undefined ? this.controller.signal : AbortSignal.any([signal, this.controller.signal])
  }

  /** Throws the first failure, or the abort reason. */
  check (): void {
    if (this.failure !== undefined) throw this.failure.error
    this.signal.throwIfAborted()
  }

  /** Starts `task` once fewer than `size` run. */
  async add (task: (signal: AbortSignal) => Promise<void>): Promise<void> {
    while (this.running.size >= this.size) await Promise.race(this.running)
    this.check()
    const run: Promise<void> = task(this.signal).catch((error: unknown) => {
      if (this.failure === undefined) {
        this.failure = { error }
        this.controller.abort(error)
      }
    }).finally(() => this.running.delete(run))
    this.running.add(run)
  }

  /** Waits for every task; throws the first failure. */
  async drain (): Promise<void> {
    await this.settle()
    this.check()
  }

  /** Waits for every task, failed or not: nothing is left writing. */
  async settle (): Promise<void> {
    while (this.running.size > 0) await Promise.race(this.running)
  }
}
