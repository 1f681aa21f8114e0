import path from 'node:path'
import { submittedJob, UsageError } from '../../index.js'
import { displayPath } from '../format.js'
import type { Io } from '../io.js'
import { cancellable, exitFor, withNode } from '../node-session.js'
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
  return await withNode(options.dataDir, async (node) => await cancellable(io, async (signal) => {
    const outcome = await node.run(submittedJob({ cids, command, cwd: process.cwd() }), { signal, onEvent: eventRenderer(io, options.json === true) })
    if (outcome.outputsDir !== undefined && options.json !== true) {
      io.err(`job ${outcome.runId}: outputs of node ${node.id} in ${displayPath(path.join(outcome.outputsDir, 'job', '0'))}\n`)
      io.out(`${outcome.runId}\n`)
    }
    return exitFor(outcome.status)
  }))
}
