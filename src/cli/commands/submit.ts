import path from 'node:path'
import { defaultDataDir, openNode, submittedJob, UsageError } from '../../index.js'
import { EXIT } from '../exit.js'
import { displayPath } from '../format.js'
import type { Io } from '../io.js'
import { eventRenderer } from '../render.js'

export interface SubmitOptions { cids?: string, commands?: string, dataDir?: string, json?: boolean }

/**
 * `bac job submit --cids=<cid,...> --commands="…"`: the seed's command. Runs the command once in
 * the sandbox with each CID at `/ipfs/<cid>` (a private writable copy), prints the job id and
 * where each node's outputs are.
 */
export async function submitCommand (options: SubmitOptions, io: Io): Promise<number> {
  const command = options.commands?.trim() ?? ''
  if (command === '') throw new UsageError('give the command to run with --commands="…"')
  const cids = (options.cids ?? '').split(',').map((c) => c.trim()).filter((c) => c !== '')
  const node = await openNode({ dataDir: options.dataDir ?? defaultDataDir() })
  const controller = new AbortController()
  const onInterrupt = (): void => { controller.abort() }
  process.on('SIGINT', onInterrupt)
  try {
    const outcome = await node.run(submittedJob({ cids, command, cwd: process.cwd() }), { signal: controller.signal, onEvent: eventRenderer(io, options.json === true) })
    if (outcome.outputsDir !== undefined && options.json !== true) {
      io.err(`job ${outcome.runId}: outputs of node ${node.id} in ${displayPath(path.join(outcome.outputsDir, 'job', node.id))}\n`)
      io.out(`${outcome.runId}\n`)
    }
    if (outcome.status === 'cancelled') return EXIT.cancelled
    return outcome.status === 'succeeded' ? EXIT.ok : EXIT.failed
  } finally {
    process.off('SIGINT', onInterrupt)
    await node.close()
  }
}
