import path from 'node:path'
import { cidAlone, printable, UsageError } from '../../index.js'
import { displayPath } from '../format.js'
import type { Io } from '../io.js'
import { cancellable, exitFor, withBacNode, type NodeOptions } from '../node-session.js'
import { eventRenderer } from '../render.js'

export interface SubmitOptions extends NodeOptions { cids?: string, commands?: string, json?: boolean }

/**
 * `bac job submit --cids=<cid,...> --commands="…"`: the seed's command. Runs the command once in
 * the sandbox with each CID at `/ipfs/<cid>` (a private writable copy), on the node the command
 * acts on, prints the job id and where its outputs are.
 */
export async function submitCommand (options: SubmitOptions, io: Io): Promise<number> {
  const command = options.commands?.trim() ?? ''
  if (command === '') throw new UsageError('give the command to run with --commands="…"')
  const cids = (options.cids ?? '').split(',').map((c) => c.trim()).filter((c) => c !== '')
  const bad = cids.find((c) => cidAlone(c) === undefined)
  if (bad !== undefined) throw new UsageError(`--cids takes CIDs, got '${printable(bad, 80)}'`)
  return await withBacNode(options, async (node) => await cancellable(io, async (signal) => {
    const job = node.submitJob({ cids, command }, { signal })
    const show = eventRenderer(io, options.json === true)
    for await (const event of job.events) show(event)
    const end = await job.ended
    if (options.json !== true) {
      if (end.outputsDir !== undefined) io.err(`job ${end.runId}: outputs in ${displayPath(path.join(end.outputsDir, 'job', '0'))}\n`)
      else if (end.resultCid !== undefined) io.err(`job ${end.runId} on ${node.where}: its outputs are ${end.resultCid}/job/0 (bac job get ${end.runId})\n`)
      io.out(`${end.runId}\n`)
    }
    return exitFor(end.status)
  }))
}
