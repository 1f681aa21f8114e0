import { randomBytes } from 'node:crypto'
import path from 'node:path'
import type { ExecutionResult } from '../interfaces/executor.js'
import type { StepTask, TaskOptions, TaskResult } from '../interfaces/network.js'
import { triggerFileCid, type StepView } from './context.js'
import { executeAttempt, mountInputs, type AttemptOutcome } from './attempt.js'
import type { Instance } from './render.js'
import { IN_TOTO_PAYLOAD_TYPE, type Envelope, type ExecutionPredicate } from '../interfaces/provenance.js'
import { signEnvelope } from '../common/dsse.js'
import { executionStatement } from './provenance.js'
import type { InputValue } from './inputs.js'
import type { AttemptContext, EngineComponents } from './run-context.js'
import { Workspace } from './workspace.js'

/** How long a requester's run keeps its folder (and the content in it) after its last task here. */
const IDLE_MS = 15_000

function failure (error: string, cancelled: boolean): ExecutionResult {
  return { exitCode: null, signal: null, timedOut: false, cancelled, error, durationMs: 0, stdoutBytes: 0, stderrBytes: 0, logTruncated: false, outputBytes: 0 }
}

/**
 * Runs the tasks peers send: one folder per requester's run (`<dataDir>/tasks/<id>/`), shared by
 * its tasks here so content they share is fetched and written out once, and removed a while
 * after the last of them.
 */
export class TaskHost {
  private readonly runs = new Map<string, { workspace: Workspace, users: number, timer?: NodeJS.Timeout }>()

  constructor (private readonly components: EngineComponents, private readonly dataDir: string) {}

  private acquire (key: string): Workspace {
    let entry = this.runs.get(key)
    if (entry === undefined) {
      entry = { workspace: new Workspace(path.join(this.dataDir, 'tasks', `${key.replace(/[^A-Za-z0-9]/g, '').slice(-24)}-${randomBytes(3).toString('hex')}`), this.components.store, 2), users: 0 }
      this.runs.set(key, entry)
    }
    clearTimeout(entry.timer)
    entry.users++
    return entry.workspace
  }

  private release (key: string): void {
    const entry = this.runs.get(key)
    if (entry === undefined || --entry.users > 0) return
    entry.timer = setTimeout(() => {
      if (entry.users > 0) return
      this.runs.delete(key)
      void entry.workspace.cleanup(true).catch(() => {})
    }, IDLE_MS)
    entry.timer.unref()
  }

  /** Runs one task to its end; never throws for the step's own failure. `from` is the requester's peer id. */
  async run (task: StepTask, options: TaskOptions & { from?: string }): Promise<TaskResult> {
    const executor = this.components.executors[task.step.executor]
    if (executor === undefined) {
      return { result: failure(`the ${task.step.executor} executor is not available on this node`, false), reason: `the ${task.step.executor} executor is not available on this node` }
    }
    const key = `${options.from ?? 'local'}:${task.run.id}`
    const workspace = this.acquire(key)
    const signal = options.signal
    try {
      const inputs = task.inputs as Record<string, InputValue>
      const network = this.components.network
      const content = [
        ...Object.values(inputs).flatMap((v) => typeof v === 'object' && v !== null ? [v.cid] : []),
        ...task.place.flatMap((id) => { const cid = task.steps[id]?.outputs.cid; return typeof cid === 'string' ? [cid] : [] }),
        ...[triggerFileCid(task.trigger)].filter((cid): cid is string => cid !== undefined)
      ]
      // every block from the requester at once, before anything is read
      if (network !== undefined && options.from !== undefined) await Promise.all(content.map(async (cid) => await network.fetch(cid, options.from as string, signal !== undefined ? { signal } : {})))
      const steps: Record<string, StepView> = { ...task.steps }
      for (const id of task.place) {
        const view = steps[id]
        const cid = view?.outputs.cid
        if (view !== undefined && typeof cid === 'string') steps[id] = { ...view, outputs: { ...view.outputs, path: await workspace.content(cid, signal) } }
      }
      const ctx: AttemptContext = {
        components: this.components,
        workspace,
        // `run.node` is the node running the step: this one
        scope: { trigger: task.trigger, run: { ...task.run, node: this.components.signer.keyId }, env: task.env, inputs: task.pipelineInputs as Record<string, InputValue>, steps },
        pipelineInputs: task.pipelineInputs as Record<string, InputValue>,
        signal
      }
      const instance: Instance = { step: task.step, inputs, ...(task.index !== undefined ? { index: task.index } : {}), ...(task.item !== undefined ? { item: task.item } : {}) }
      const mounted = await mountInputs(workspace, inputs, task.trigger, signal)
      const outcome = await executeAttempt(ctx, instance, executor, task.attempt, mounted, {
        onStart: () => options.onStart?.(),
        ...(options.onLog !== undefined ? { onLog: options.onLog } : {})
      })
      const { outputsCid } = outcome
      if (outputsCid === undefined) return outcome
      return { ...outcome, attestation: await this.attest(task, executor.kind, { ...outcome, outputsCid }) }
    } catch (err) {
      const cancelled = signal?.aborted === true
      const reason = cancelled ? 'cancelled' : `the node could not run it: ${(err as Error).message}`
      return { result: failure(reason, cancelled), reason }
    } finally {
      this.release(key)
    }
  }

  /** This node's signed statement of an attempt it ran for a peer: its outputs, command, exit and times. */
  private async attest (task: StepTask, executor: string, outcome: AttemptOutcome & { outputsCid: string }): Promise<Envelope> {
    const predicate: ExecutionPredicate = {
      run: task.run.id,
      step: task.step.id,
      ...(task.index !== undefined ? { item: task.index } : {}),
      attempt: task.attempt,
      key: outcome.key,
      command: outcome.command,
      executor,
      ...(outcome.machine !== undefined ? { machine: outcome.machine } : {}),
      exitCode: outcome.result.exitCode,
      signal: outcome.result.signal,
      outputsCid: outcome.outputsCid,
      startedOn: new Date(outcome.startedAt).toISOString(),
      finishedOn: new Date(outcome.endedAt).toISOString(),
      node: this.components.signer.keyId
    }
    return await signEnvelope(IN_TOTO_PAYLOAD_TYPE, executionStatement(outcome.outputsCid, predicate), this.components.signer)
  }

  /** Removes the folders of tasks that have ended. */
  async close (): Promise<void> {
    await Promise.all([...this.runs.values()].map(async (e) => {
      clearTimeout(e.timer)
      await e.workspace.cleanup(true).catch(() => {})
    }))
    this.runs.clear()
  }
}
