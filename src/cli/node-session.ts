import { connectNode, defaultDataDir, openNode, type BacNode, type EmbeddedNode, type RunStatus } from '../index.js'
import { nodeTarget } from './commands/node.js'
import { EXIT } from './exit.js'
import type { Io } from './io.js'

/** Opens a node on the data dir for the duration of `fn`, and closes it whatever happens. */
export async function withNode<T> (dataDir: string | undefined, fn: (node: EmbeddedNode) => Promise<T>): Promise<T> {
  const node = await openNode({ dataDir: dataDir ?? defaultDataDir() })
  try {
    return await fn(node)
  } finally {
    await node.close()
  }
}

/**
 * Runs `fn` with a signal that Ctrl-C (or SIGTERM) aborts: the running steps are stopped and the
 * run recorded as cancelled. A second Ctrl-C quits at once.
 */
export async function cancellable<T> (io: Io, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController()
  let interrupts = 0
  const onInterrupt = (): void => {
    interrupts++
    if (interrupts > 1) process.exit(EXIT.cancelled)
    io.err('cancelling: stopping the running steps (Ctrl-C again to quit at once)\n')
    controller.abort()
  }
  process.on('SIGINT', onInterrupt)
  process.on('SIGTERM', onInterrupt)
  try {
    return await fn(controller.signal)
  } finally {
    process.off('SIGINT', onInterrupt)
    process.off('SIGTERM', onInterrupt)
  }
}

/** The exit code of a run: 0 succeeded, 130 cancelled, 1 anything else. */
export function exitFor (status: RunStatus): number {
  if (status === 'cancelled') return EXIT.cancelled
  return status === 'succeeded' ? EXIT.ok : EXIT.failed
}

/** The options every command that acts on a node takes: where its data dir is, or which node to reach. */
export interface NodeOptions { dataDir?: string, node?: string, token?: string, /** the data dir itself, even when a node serves on it */ local?: boolean }

/**
 * The node a command acts on, asked for once: `--node`, `$BAC_NODE`, or the node serving on the
 * data dir (through its API), else the data dir itself. Closed whatever happens.
 */
export async function withBacNode<T> (options: NodeOptions, fn: (node: BacNode) => Promise<T>): Promise<T> {
  const node = await connectNode(options.local === true ? undefined : await nodeTarget(options), options.dataDir ?? defaultDataDir())
  try {
    return await fn(node)
  } finally {
    await node.close()
  }
}
