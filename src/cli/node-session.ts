import { connectNode, defaultDataDir, openNode, runningApi, type BacNode, type EmbeddedNode, type NodeTarget, type RunStatus } from '../index.js'
import { EXIT } from './exit.js'
import type { Io } from './io.js'

/**
 * The node the CLI acts on: `--node`, `$BAC_NODE`, or the node serving on the data dir; with its
 * token: `--token`, `$BAC_TOKEN`, or the one the serving node left in the data dir's api.json
 * (when the node named is that one).
 */
export async function nodeTarget (options: { node?: string, token?: string, dataDir?: string }): Promise<NodeTarget | undefined> {
  const given = options.node ?? process.env.BAC_NODE
  const token = options.token ?? (process.env.BAC_TOKEN !== '' ? process.env.BAC_TOKEN : undefined)
  const local = await runningApi(options.dataDir ?? defaultDataDir())
  const withToken = (url: string, fallback?: string): NodeTarget => {
    const chosen = token ?? fallback
    return chosen === undefined ? { url } : { url, token: chosen }
  }
  if (given !== undefined && given !== '') return withToken(given, local !== undefined && sameUrl(local.url, given) ? local.token : undefined)
  return local === undefined ? undefined : withToken(local.url, local.token)
}

const sameUrl = (a: string, b: string): boolean => a.replace(/\/+$/, '') === b.replace(/\/+$/, '')

/** Opens a node on the data dir for the duration of `fn`, and closes it whatever happens. */
export async function withNode<T> (options: { readonly dataDir?: string, readonly ipfsApi?: string }, fn: (node: EmbeddedNode) => Promise<T>): Promise<T> {
  const node = await openNode({ dataDir: options.dataDir ?? defaultDataDir(), ...(options.ipfsApi !== undefined ? { ipfsApi: options.ipfsApi } : {}) })
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
export interface NodeOptions {
  dataDir?: string
  node?: string
  token?: string
  /** The data dir itself, even when a node serves on it. */
  local?: boolean
  /** The Kubo daemon the data dir's node keeps content in (the root's `--ipfs-api`). */
  ipfsApi?: string
}

/**
 * The node a command acts on, asked for once: `--node`, `$BAC_NODE`, or the node serving on the
 * data dir (through its API), else the data dir itself. Closed whatever happens.
 */
export async function withBacNode<T> (options: NodeOptions, fn: (node: BacNode) => Promise<T>): Promise<T> {
  const node = await connectNode(options.local === true ? undefined : await nodeTarget(options), options.dataDir ?? defaultDataDir(), options.ipfsApi !== undefined ? { ipfsApi: options.ipfsApi } : {})
  try {
    return await fn(node)
  } finally {
    await node.close()
  }
}
