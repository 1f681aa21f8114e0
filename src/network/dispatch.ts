import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { DispatchRefusedError, NodeLostError } from '../interfaces/errors.js'
import type { LogChunk } from '../interfaces/executor.js'
import type { StepTask, TaskOptions, TaskResult } from '../interfaces/network.js'
import { cidAlone } from '../common/cid.js'
import { printable } from '../common/text.js'
import { Frames } from './frames.js'

/** The protocol a requester runs one step attempt on a peer with. */
export const DISPATCH_PROTOCOL = '/bac/dispatch/1.0.0'

type ToRunner = { type: 'task', task: StepTask } | { type: 'cancel' }
type ToRequester =
  | { type: 'accepted', nodeId: string }
  | { type: 'refused', reason: string }
  | { type: 'started' }
  | { type: 'log', chunks: LogChunk[] }
  | { type: 'alive' }
  | { type: 'done', outcome: TaskResult, blocks?: Array<{ cid: string, data: string }> }

/** Runs a task that a trusted peer sent; never throws for the step's own failure. */
export type TaskRunner = (task: StepTask, options: TaskOptions & { signal: AbortSignal, from: string }) => Promise<TaskResult>

export interface DispatchServerInit {
  readonly nodeId: string
  /** Why a peer may not send work, or undefined when it may. */
  readonly refuse: (peer: string, connection: Connection, task: StepTask) => string | undefined
  readonly run: TaskRunner
  /** A frame goes out at least this often while a task runs, so the requester knows the node lives. @default 1000 */
  readonly aliveMs?: number
  readonly log?: (line: string) => void
  /** The blocks of small outputs (at most `INLINE_BYTES` in all), sent with the end so the requester need not ask. */
  readonly inline?: (cid: string) => Promise<Array<{ cid: string, data: Uint8Array }> | undefined>
}

/** Outputs up to this size travel in the dispatch stream itself; larger ones by bitswap. */
export const INLINE_BYTES = 2 * 1024 * 1024

/** Serves `/bac/dispatch/1.0.0`: checks trust, runs the task, streams its logs and its end back. */
export function serveDispatch (libp2p: Libp2p, init: DispatchServerInit): { stop: () => Promise<void> } {
  const active = new Set<AbortController>()
  const handler = async (stream: Stream, connection: Connection): Promise<void> => {
    const frames = new Frames<ToRequester | ToRunner>(stream)
    const peer = connection.remotePeer.toString()
    let first: ToRunner
    try {
      first = await frames.next(AbortSignal.timeout(10_000)) as ToRunner
    } catch (err) {
      stream.abort(err as Error)
      return
    }
    if (first.type !== 'task') {
      stream.abort(new Error('expected a task'))
      return
    }
    const refusal = init.refuse(peer, connection, first.task)
    if (refusal !== undefined) {
      init.log?.(`refused step '${printable(String(first.task.step?.id), 64)}' of run ${printable(String(first.task.run?.id), 64)} from ${peer}: ${refusal}`)
      await frames.send({ type: 'refused', reason: refusal }).catch(() => {})
      await stream.close().catch(() => {})
      return
    }
    const controller = new AbortController()
    active.add(controller)
    // the requester cancels with a frame, or by going away
    void (async () => {
      try {
        for (;;) {
          const frame = await frames.next() as ToRunner
          if (frame.type === 'cancel') break
        }
      } catch {}
      controller.abort(new Error(`the requester ${peer} cancelled the step or went away`))
    })()
    let pending: LogChunk[] = []
    let flushing: Promise<void> | undefined
    const flush = (): void => {
      if (pending.length === 0 || flushing !== undefined) return
      const chunks = pending
      pending = []
      flushing = frames.send({ type: 'log', chunks }).catch(() => {}).finally(() => { flushing = undefined; flush() })
    }
    const alive = setInterval(() => { void frames.send({ type: 'alive' }).catch(() => {}) }, init.aliveMs ?? 1000)
    try {
      await frames.send({ type: 'accepted', nodeId: init.nodeId })
      const outcome = await init.run(first.task, {
        signal: controller.signal,
        from: peer,
        onStart: () => { void frames.send({ type: 'started' }).catch(() => {}) },
        onLog: (chunk) => { pending.push(chunk); queueMicrotask(flush) }
      })
      flush()
      await flushing
      const blocks = outcome.outputsCid !== undefined ? await init.inline?.(outcome.outputsCid).catch(() => undefined) : undefined
      // the outputs' blocks ride with the end, in one frame
      await frames.send({ type: 'done', outcome, ...(blocks !== undefined ? { blocks: blocks.map((b) => ({ cid: b.cid, data: Buffer.from(b.data).toString('base64') })) } : {}) })
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      clearInterval(alive)
      active.delete(controller)
    }
  }
  const ready = libp2p.handle(DISPATCH_PROTOCOL, handler, { maxInboundStreams: 1024, maxOutboundStreams: 1024 })
  return {
    stop: async () => {
      await ready
      for (const c of active) c.abort(new Error('the node is stopping'))
      await libp2p.unhandle(DISPATCH_PROTOCOL)
    }
  }
}

export interface DispatchOptions extends TaskOptions {
  /** Takes the blocks a peer sent with its end (checked against their CIDs there). */
  readonly onBlocks?: (blocks: Array<{ cid: string, data: Uint8Array }>) => Promise<void>
  /** Give up on a peer that sends nothing for this long. @default 10000 */
  readonly livenessMs?: number
  /** After a cancel, wait this long for the peer to report the step's end. @default 10000 */
  readonly cancelGraceMs?: number
}

/** What a peer's task result may hold, at most: a reason, the command as it ran. */
const MAX_REASON = 64 * 1024
const MAX_COMMAND = 1024 * 1024

/** Why a peer's `done` answer is not a task result bac would give, or undefined when it is one. */
export function taskResultProblem (value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not an object'
  const o = value as Record<string, unknown>
  const r = o.result as Record<string, unknown> | null | undefined
  if (typeof r !== 'object' || r === null) return 'no result'
  if (!(r.exitCode === null || Number.isInteger(r.exitCode)) || !(r.signal === null || (typeof r.signal === 'string' && r.signal.length <= 32))) return 'its exit code or signal is not one'
  if (typeof r.timedOut !== 'boolean' || typeof r.cancelled !== 'boolean') return 'its result lacks timedOut or cancelled'
  if (r.error !== undefined && (typeof r.error !== 'string' || r.error.length > MAX_REASON)) return 'its error is not a short text'
  for (const k of ['durationMs', 'stdoutBytes', 'stderrBytes', 'outputBytes']) if (r[k] !== undefined && typeof r[k] !== 'number') return `its ${k} is not a number`
  if (o.outputsCid !== undefined && (typeof o.outputsCid !== 'string' || cidAlone(o.outputsCid) !== o.outputsCid)) return 'its outputs are not named by a CID alone'
  if (o.reason !== undefined && (typeof o.reason !== 'string' || o.reason.length > MAX_REASON)) return 'its reason is not a short text'
  if (o.key !== undefined && (typeof o.key !== 'string' || !/^[0-9a-f]{64}$/.test(o.key))) return 'its memo key is not one'
  if (o.machine !== undefined && (typeof o.machine !== 'string' || o.machine.length > 1024)) return 'its machine is not a short text'
  if (o.command !== undefined && JSON.stringify(o.command).length > MAX_COMMAND) return `its command is over ${MAX_COMMAND} bytes`
  if (o.attestation !== undefined && (typeof o.attestation !== 'object' || o.attestation === null)) return 'its attestation is not an envelope'
  return undefined
}

/** Why a dial or a stream failed, in words for a user. */
function lostReason (err: unknown): string {
  const e = err as Error
  switch (e?.name) {
    case 'UnsupportedProtocolError': return `it does not speak ${DISPATCH_PROTOCOL}: it runs another version of bac; run the same version on every node`
    case 'StreamResetError': return 'the stream was reset (the node stopped or crashed)'
    case 'UnexpectedEOFError': return 'the connection ended before the step did (the node stopped or crashed)'
    case 'ConnectionClosedError': return 'the connection closed'
    default: return e?.message ?? String(err)
  }
}

/**
 * A new stream to a peer: on its open connection when it has one (no trip through the dialler),
 * otherwise by dialling it.
 */
export async function openStream (libp2p: Libp2p, peer: PeerId, protocol: string, signal: AbortSignal): Promise<Stream> {
  const connection = libp2p.getConnections(peer).find((c) => c.status === 'open')
  if (connection !== undefined) return await connection.newStream(protocol, { signal })
  return await libp2p.dialProtocol(peer, protocol, { signal })
}

/**
 * Runs a task on a peer: sends it, relays its logs, and returns how it ended. A cancel (the
 * signal) reaches the peer, which kills the step; the step's end is still waited for. Rejects
 * with `DispatchRefusedError` when the peer will not run it and `NodeLostError` when the peer goes
 * away or goes quiet.
 */
export async function dispatchTask (libp2p: Libp2p, peer: PeerId, task: StepTask, options: DispatchOptions = {}): Promise<TaskResult> {
  const name = peer.toString()
  let stream: Stream
  try {
    stream = await openStream(libp2p, peer, DISPATCH_PROTOCOL, AbortSignal.timeout(options.livenessMs ?? 10_000))
  } catch (err) {
    if ((err as Error).name === 'UnsupportedProtocolError') throw new DispatchRefusedError(name, lostReason(err))
    throw new NodeLostError(name, `cannot open a stream to it: ${lostReason(err)}`, { cause: err })
  }
  const frames = new Frames<ToRequester | ToRunner>(stream)
  const onAbort = (): void => { void frames.send({ type: 'cancel' }).catch(() => {}) }
  try {
    await frames.send({ type: 'task', task })
    options.signal?.addEventListener('abort', onAbort, { once: true })
    if (options.signal?.aborted === true) onAbort()
    for (;;) {
      const quiet = options.signal?.aborted === true ? (options.cancelGraceMs ?? 10_000) : (options.livenessMs ?? 10_000)
      let frame: ToRequester
      try {
        frame = await frames.next(AbortSignal.timeout(quiet)) as ToRequester
      } catch (err) {
        if ((err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError') throw new NodeLostError(name, `it sent nothing for ${quiet} ms`, { cause: err })
        throw new NodeLostError(name, lostReason(err), { cause: err })
      }
      switch (frame.type) {
        case 'refused': throw new DispatchRefusedError(name, frame.reason)
        case 'started': options.onStart?.(); break
        case 'log': for (const chunk of frame.chunks) options.onLog?.(chunk); break
        case 'done': {
          // the peer's word, checked before anything of it is used or stored
          const problem = taskResultProblem(frame.outcome)
          if (problem !== undefined) throw new NodeLostError(name, `it answered with a task result that is not one: ${problem}`)
          if (frame.blocks !== undefined) await options.onBlocks?.(frame.blocks.map((b) => ({ cid: b.cid, data: Buffer.from(b.data, 'base64') })))
          return frame.outcome
        }
        default: break
      }
    }
  } catch (err) {
    stream.abort(err as Error)
    throw err
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
    // the stream closes once the peer has closed its side
    void stream.close().catch(() => {})
  }
}
