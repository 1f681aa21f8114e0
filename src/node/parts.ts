/**
 * The parts of a node, stopped in the reverse of the order they started: each is added once it
 * has started, with how it stops. A part that fails to stop does not keep the others running;
 * the failures are reported together at the end.
 */
export class Parts {
  private readonly started: Array<{ readonly name: string, readonly stop: () => Promise<void> | void }> = []

  /** A part that has started, and how it stops. */
  add (name: string, stop: () => Promise<void> | void): void {
    this.started.push({ name, stop })
  }

  /** Stops every part started, the last first; rejects with what failed, once all were asked. */
  async stop (): Promise<void> {
    const failed: string[] = []
    for (const part of this.started.splice(0).reverse()) {
      try {
        await part.stop()
      } catch (err) {
        failed.push(`${part.name}: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    if (failed.length > 0) throw new Error(`the node did not stop cleanly (${failed.join('; ')})`)
  }

  /** Runs `start`; when it throws, what had started is stopped before the error goes on. */
  async starting<T> (start: () => Promise<T>): Promise<T> {
    try {
      return await start()
    } catch (err) {
      await this.stop().catch(() => {})
      throw err
    }
  }
}
