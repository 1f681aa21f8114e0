import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { contentDescriptor } from '../common/cid.js'
import { signEnvelope } from '../common/dsse.js'
import { readRegularFile } from '../common/files.js'
import type { StepOutcome } from '../interfaces/engine.js'
import type { Pipeline } from '../interfaces/pipeline.js'
import {
  BAC_BUILD_TYPE, BAC_EXECUTION_V1, IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_V1, SLSA_PROVENANCE_V1,
  type Envelope, type ExecutionPredicate, type Provenance, type ResourceDescriptor, type Statement
} from '../interfaces/provenance.js'
import type { RunRecord, RunStatus } from '../interfaces/run-store.js'
import type { EngineComponents, RunContext } from './run-context.js'

const run = promisify(execFile)

/** Pipeline and job template files larger than this are recorded by path alone. */
const MAX_SOURCE_BYTES = 4 * 1024 * 1024

/** The statement a node signs of one attempt it ran (or outputs it holds) for another node: its subject is the outputs. */
export function executionStatement (outputsCid: string, predicate: ExecutionPredicate): Statement<ExecutionPredicate> {
  return { _type: IN_TOTO_STATEMENT_V1, subject: [contentDescriptor(outputsCid, 'outputs')], predicateType: BAC_EXECUTION_V1, predicate }
}

/** The files a run was defined by, read as the run starts: the pipeline file, its job templates, and its git commit. */
export interface RunSources {
  readonly files: readonly ResourceDescriptor[]
  readonly git?: ResourceDescriptor
}

/** The top of the git work tree a folder is in (the nearest folder above holding `.git`), if any. */
function workTree (dir: string): string | undefined {
  for (let at = dir; ; at = path.dirname(at)) {
    if (existsSync(path.join(at, '.git'))) return at
    if (path.dirname(at) === at) return undefined
  }
}

/** git's environment: the user's, without GIT_* variables that would point it at another repository. */
function gitEnv (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v
  return { ...env, GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0' }
}

/** Runs git in a work tree: no fsmonitor hook, and given up on after 5 s even if something keeps its output open. */
async function git (top: string, args: readonly string[]): Promise<{ stdout: string, ok: boolean }> {
  const child = run('git', ['-c', 'core.fsmonitor=false', ...args], { cwd: top, timeout: 5000, maxBuffer: 16 * 1024 * 1024, env: gitEnv() })
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error('git took longer than 6 s')) }, 6000) })
  try {
    const { stdout } = await Promise.race([child, late])
    return { stdout, ok: true }
  } catch (err) {
    return { stdout: String((err as { stdout?: unknown }).stdout ?? ''), ok: false }
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The git commit of a file's work tree, whether tracked files differ from it (`dirty`), and
 * whether the file itself is tracked; undefined outside git (or without git).
 */
async function gitOf (file: string): Promise<ResourceDescriptor | undefined> {
  const top = workTree(path.dirname(file))
  if (top === undefined) return undefined
  const relative = path.relative(top, file)
  const [status, tracked] = await Promise.all([
    git(top, ['status', '--porcelain=v2', '--branch', '--untracked-files=no', '-z']),
    git(top, ['ls-files', '--error-unmatch', '--', relative])
  ])
  if (!status.ok) return undefined
  const entries = status.stdout.split('\0').filter((e) => e !== '')
  const commit = entries.find((e) => e.startsWith('# branch.oid '))?.slice('# branch.oid '.length) ?? ''
  if (!/^[0-9a-f]{40,64}$/.test(commit)) return undefined
  // anything but the headers is a change to a tracked file
  const dirty = entries.some((e) => /^[12u] /.test(e))
  return { name: 'git', uri: `git+file://${top}`, digest: { gitCommit: commit }, annotations: { dirty, pipelineTracked: tracked.ok, path: relative } }
}

const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex')

/** The file's bytes now, or undefined when it cannot be read (gone, too large, not a regular file). */
async function onDisk (file: string): Promise<Buffer | undefined> {
  try {
    return await readRegularFile(file, MAX_SOURCE_BYTES, 'a pipeline file')
  } catch {
    return undefined
  }
}

/** The CID of bytes once stored; undefined when the store would not take them (it is stopping): the record then gives the digest alone. */
async function stored (ctx: Pick<RunContext, 'components'>, bytes: Uint8Array): Promise<string | undefined> {
  try {
    return await ctx.components.store.addBytes(bytes)
  } catch {
    return undefined
  }
}

/**
 * What defines a run, read as it starts: the pipeline as it was validated (its text, stored, so
 * the record's CID reads back exactly what ran), its job templates (the SHA-256 of the text each
 * was built from), and the git commit of the pipeline's work tree. A text that is not what the
 * file holds (sent through the API, or the file changed since the node read it) says so, and
 * claims no commit.
 */
export async function runSources (ctx: Pick<RunContext, 'components'>, pipeline: Pipeline): Promise<RunSources> {
  const files: ResourceDescriptor[] = []
  let git: ResourceDescriptor | undefined
  const text = pipeline.text
  const disk = await onDisk(pipeline.file)
  if (text !== undefined) {
    const bytes = Buffer.from(text, 'utf8')
    const cid = await stored(ctx, bytes)
    const same = disk !== undefined && disk.equals(bytes)
    files.push({ name: 'pipeline', uri: `file://${pipeline.file}`, digest: { sha256: sha256(bytes) }, annotations: { ...(cid !== undefined ? { cid } : {}), ...(same ? {} : { notTheFile: true }) } })
    if (same) git = await gitOf(pipeline.file)
  } else {
    files.push({ name: 'pipeline', uri: `file://${pipeline.file}`, annotations: { unrecorded: 'the pipeline was not made from a file' } })
  }
  const templates = new Map<string, { ref: string, sha256?: string }>()
  for (const step of Object.values(pipeline.steps)) {
    if (step.uses !== undefined) templates.set(step.uses.template.file, { ref: step.uses.ref, ...(step.uses.template.sha256 !== undefined ? { sha256: step.uses.template.sha256 } : {}) })
  }
  for (const [file, { ref, sha256: parsed }] of templates) {
    const bytes = await onDisk(file)
    const same = bytes !== undefined && parsed !== undefined && sha256(bytes) === parsed
    const cid = same ? await stored(ctx, bytes) : undefined
    files.push({
      name: `jobstore/${ref}`,
      uri: `file://${file}`,
      ...(parsed !== undefined ? { digest: { sha256: parsed } } : {}),
      annotations: cid !== undefined ? { cid } : (same ? {} : { notTheFile: true })
    })
  }
  return { files, ...(git !== undefined ? { git } : {}) }
}

const iso = (ms: number | undefined): string | undefined => ms === undefined ? undefined : new Date(ms).toISOString()

/** What a run's record is made from, at its end. */
export interface RecordParts {
  readonly record: RunRecord
  readonly status: RunStatus
  readonly reason?: string
  readonly resultCid: string
  readonly outcomes: ReadonlyMap<string, StepOutcome>
  readonly sources: RunSources
  readonly version: string
  readonly endedAt: number
}

/** The run's provenance: an in-toto Statement whose subject is the result, with a SLSA Provenance v1 predicate. */
export function provenanceStatement (ctx: Pick<RunContext, 'components' | 'pipeline' | 'runId'>, parts: RecordParts): Statement<Provenance> {
  const { runs, signer } = ctx.components
  const { record } = parts
  const inputs = Object.entries(record.inputs).flatMap(([name, value]) => {
    const cid = typeof value === 'object' && value !== null ? (value as { cid?: unknown }).cid : undefined
    return typeof cid === 'string' ? [contentDescriptor(cid.split('/')[0] ?? cid, `inputs.${name}`, { path: cid, name: (value as { name?: unknown }).name })] : []
  })
  const dropped = (record.trigger.file as { cid?: unknown } | undefined)?.cid
  const steps = runs.steps(ctx.runId)
  const executions = runs.executions(ctx.runId)
  const machines = new Set(executions.flatMap((e) => e.machine?.split(' ') ?? []))
  const resolvedDependencies: ResourceDescriptor[] = [
    ...parts.sources.files,
    ...(parts.sources.git !== undefined ? [parts.sources.git] : []),
    ...inputs,
    ...(typeof dropped === 'string' ? [contentDescriptor(dropped, 'trigger.file')] : []),
    ...[...machines].filter((m) => /^sha256:[0-9a-f]{64}$/.test(m)).map((m) => ({ name: 'vm-image', digest: { sha256: m.slice('sha256:'.length) } }))
  ]
  const attempts: ResourceDescriptor[] = executions.map((e) => {
    const instance = `${e.stepId}${e.item !== undefined ? `[${e.item}]` : ''}`
    const annotations = {
      step: e.stepId,
      ...(e.item !== undefined ? { item: e.item } : {}),
      attempt: e.attempt,
      executor: e.executor,
      node: e.peer ?? e.node,
      ...(e.command !== undefined ? { command: e.command } : {}),
      ...(e.machine !== undefined ? { machine: e.machine } : {}),
      exitCode: e.exitCode ?? null,
      ...(e.signal !== undefined ? { signal: e.signal } : {}),
      ...(e.error !== undefined ? { error: e.error } : {}),
      startedOn: iso(e.startedAt),
      ...(e.endedAt !== undefined ? { finishedOn: iso(e.endedAt) } : {}),
      ...(e.cacheKey !== undefined ? { key: e.cacheKey } : {}),
      ...(e.attestation !== undefined ? { attestation: e.attestation } : {})
    }
    const name = `attempt:${instance}#${e.attempt}`
    return e.outputsCid !== undefined ? contentDescriptor(e.outputsCid, name, annotations) : { name, annotations }
  })
  const cached: ResourceDescriptor[] = steps.flatMap((s) => Object.entries(s.cachedFrom ?? {}).map(([item, from]) =>
    contentDescriptor(from.outputsCid, `cached:${s.stepId}${item === '-' ? '' : `[${item}]`}`, {
      step: s.stepId, ...(item !== '-' ? { item: Number(item) } : {}), cachedFrom: from.runId, node: from.node,
      ...(from.key !== undefined ? { key: from.key } : {}), ...(from.attestation !== undefined ? { attestation: from.attestation } : {})
    })))
  // the result's folders: what `bac verify` finds again in the result itself
  const folders: ResourceDescriptor[] = [...parts.outcomes].flatMap(([id, o]) => {
    if (o.outputsCid === undefined) return []
    const perNode = ctx.pipeline.steps[id]?.merge === 'per-node' && (ctx.pipeline.steps[id]?.nodes ?? 1) > 1
    const nodes = Object.entries(o.nodes ?? { 0: o.outputsCid }).map(([k, cid]) => contentDescriptor(cid, `${id}/${k}`, { step: id, status: o.status }))
    return perNode ? nodes : [...nodes, contentDescriptor(o.outputsCid, `${id}/merged`, { step: id, status: o.status })]
  })
  const statuses = Object.fromEntries(steps.map((s) => [s.stepId, s.status]))
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [contentDescriptor(parts.resultCid, 'result')],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: BAC_BUILD_TYPE,
        externalParameters: {
          pipeline: { name: ctx.pipeline.name, path: ctx.pipeline.file },
          inputs: record.inputs,
          trigger: record.trigger,
          ...(record.request?.noCache === true ? { noCache: true } : {})
        },
        internalParameters: {
          bac: parts.version,
          executors: [...new Set(executions.map((e) => e.executor))].sort()
        },
        resolvedDependencies
      },
      runDetails: {
        builder: { id: `urn:bac:node:${signer.keyId}`, version: { bac: parts.version } },
        metadata: { invocationId: ctx.runId, startedOn: iso(record.startedAt ?? record.createdAt) as string, finishedOn: iso(parts.endedAt) as string },
        byproducts: [
          { name: 'run', annotations: { id: ctx.runId, status: parts.status, ...(parts.reason !== undefined ? { reason: parts.reason } : {}), steps: statuses } },
          ...folders,
          ...attempts,
          ...cached
        ]
      }
    }
  }
}

/** Signs the run's record and keeps it in the content store and the run store; returns its CID. */
export async function writeProvenance (ctx: Pick<RunContext, 'components' | 'pipeline' | 'runId'>, parts: RecordParts): Promise<string> {
  const envelope = await signEnvelope(IN_TOTO_PAYLOAD_TYPE, provenanceStatement(ctx, parts), ctx.components.signer)
  const text = `${JSON.stringify(envelope)}\n`
  const cid = await ctx.components.store.addBytes(Buffer.from(text, 'utf8'))
  ctx.components.runs.setProvenance(ctx.runId, cid, text)
  return cid
}

/**
 * This node's answer to a trusted peer asking for outputs by memo key: the outputs it holds for
 * that key, the run that made them, and its signed attestation of both.
 */
export function cacheAnswerer (
  components: Pick<EngineComponents, 'runs' | 'store' | 'signer'>
): (key: string) => Promise<{ outputsCid: string, runId: string, attestation: Envelope, node?: string } | undefined> {
  return async (key) => {
    const held = components.runs.cached(key)
    if (held === undefined || !await components.store.has(held.outputsCid)) return undefined
    const runId = held.runId ?? ''
    // another node's outputs are that node's to vouch for: its own signed attestation goes on, never this node's word
    if (held.node !== undefined && held.node !== components.signer.keyId) {
      return held.attestation === undefined ? undefined : { outputsCid: held.outputsCid, runId, attestation: held.attestation, node: held.node }
    }
    const predicate: ExecutionPredicate = { run: runId, key, outputsCid: held.outputsCid, cachedFrom: runId, node: components.signer.keyId }
    const attestation = await signEnvelope(IN_TOTO_PAYLOAD_TYPE, executionStatement(held.outputsCid, predicate), components.signer)
    return { outputsCid: held.outputsCid, runId, attestation }
  }
}
