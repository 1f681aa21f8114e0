import path from 'node:path'
import { parseEnvelope } from '../common/dsse.js'
import { RunNotFoundError, UsageError } from '../interfaces/errors.js'
import type { RunOutcome } from '../interfaces/engine.js'
import type { BacNode, RunEnd } from '../interfaces/node.js'
import type { RunStore } from '../interfaces/run-store.js'
import { submittedJob } from '../pipeline/index.js'
import { openRunStore } from '../storage/index.js'
import { openEmbeddedNode, type EmbeddedNode } from './embedded.js'
import { findRecord } from './provenance.js'
import { readRunLogs } from './run-logs.js'

/** How a run here ended, as a node tells it. */
function endOf (outcome: RunOutcome): RunEnd & { outputsDir?: string, provenanceCid?: string } {
  return {
    runId: outcome.runId,
    status: outcome.status,
    ...(outcome.resultCid !== undefined ? { resultCid: outcome.resultCid } : {}),
    ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}),
    ...(outcome.outputsDir !== undefined ? { outputsDir: outcome.outputsDir } : {}),
    ...(outcome.provenanceCid !== undefined ? { provenanceCid: outcome.provenanceCid } : {})
  }
}

/**
 * The data dir itself as a node, when none serves on it: its run history read directly (no node
 * needs to run for that), and its content store and engine opened when a command needs them.
 */
export function localNode (dataDir: string): BacNode {
  let history: RunStore | undefined
  let embedded: Promise<EmbeddedNode> | undefined
  const runs = (): RunStore => {
    if (history === undefined) {
      history = openRunStore({ file: path.join(dataDir, 'runs.db') })
      history.recoverInterrupted()
    }
    return history
  }
  const node = async (): Promise<EmbeddedNode> => await (embedded ??= openEmbeddedNode({ dataDir }))
  const find = (id: string): NonNullable<ReturnType<RunStore['findRun']>> => {
    const run = runs().findRun(id)
    if (run === undefined) throw new RunNotFoundError(id)
    return run
  }
  return {
    where: dataDir,
    listRuns: async (options = {}) => runs().listRuns(options),
    describeRun: async (id) => {
      const run = find(id)
      return { run, steps: runs().steps(run.id), executions: runs().executions(run.id) }
    },
    logs: async (id, options, onChunk) => { await readRunLogs(runs(), id, { ...(options.step !== undefined ? { step: options.step } : {}), follow: options.follow === true }, onChunk) },
    cancelRun: async () => {
      throw new UsageError(`no bac node is serving on ${dataDir}: a run started by bac run is cancelled with Ctrl-C there; give --node <url> for a node elsewhere`)
    },
    provenance: async (id) => parseEnvelope((await findRecord(await node(), id)).envelope),
    addContent: async (file) => await (await node()).store.addPath(file),
    catContent: (cid) => (async function * () { yield * (await node()).store.cat(cid) })(),
    getContent: async (cid, target) => { await (await node()).store.get(cid, target) },
    run: async (start, options) => {
      const opened = await node()
      const outcome = await opened.run(start.pipeline, {
        inputs: start.inputs,
        cwd: start.cwd,
        outputsDir: path.resolve(start.outputsDir),
        ...(start.concurrency !== undefined ? { concurrency: start.concurrency } : {}),
        ...(start.noCache === true ? { noCache: true } : {}),
        ...(start.resume !== undefined ? { resume: start.resume } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
        ...(options.onEvent !== undefined ? { onEvent: options.onEvent } : {})
      })
      return endOf(outcome)
    },
    submitJob: async (job, options) => {
      const opened = await node()
      const outcome = await opened.run(submittedJob({ cids: job.cids, command: job.command, cwd: process.cwd() }), {
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
        ...(options.onEvent !== undefined ? { onEvent: options.onEvent } : {})
      })
      return endOf(outcome)
    },
    close: async () => {
      history?.close()
      if (embedded !== undefined) await (await embedded).close()
    }
  }
}
