import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { cidAlone, cidOfUri, contentDescriptor } from '../common/cid.js'
import { readRegularFile } from '../common/files.js'
import { loadNodeKey } from '../common/node-key.js'
import type { RunOptions, RunOutcome, TriggerInfo } from '../interfaces/engine.js'
import type { Pipeline } from '../interfaces/pipeline.js'
import { Trust } from '../network/trust.js'
import { createValidator } from './validation.js'
import { checkSignatures, envelopeBody, MAX_ENVELOPE_BYTES, parseEnvelope } from '../common/dsse.js'
import { RecordNotFoundError, RunNotFoundError, UserError } from '../interfaces/errors.js'
import type { ContentStore } from '../interfaces/content-store.js'
import {
  BAC_BUILD_TYPE, BAC_EXECUTION_V1, IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_V1, SLSA_PROVENANCE_V1,
  type Envelope, type Provenance, type ResourceDescriptor, type Statement
} from '../interfaces/provenance.js'
import type { GivenInput, RunStore } from '../interfaces/run-store.js'

/** A provenance record found for a run or a CID. */
export interface FoundRecord {
  readonly envelope: Envelope
  /** Its CID in the content store, when known. */
  readonly cid?: string
  /** The run it records, when it is one of this node's. */
  readonly runId?: string
}

/** The node parts a record is looked up and checked with. */
export interface RecordSource {
  readonly runs: RunStore
  readonly store: ContentStore
}

async function readEnvelope (store: ContentStore, cid: string): Promise<Envelope> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of store.cat(cid, { signal: AbortSignal.timeout(30_000) })) {
    size += chunk.length
    if (size > MAX_ENVELOPE_BYTES) throw new UserError(`${cid} is larger than a provenance record may be (${MAX_ENVELOPE_BYTES} bytes)`)
    chunks.push(Buffer.from(chunk))
  }
  return parseEnvelope(Buffer.concat(chunks))
}

/**
 * The record of a run (an id or a unique prefix of one), of a result CID this node produced (its
 * newest run that did), or a record given by its own CID.
 */
export async function findRecord (node: RecordSource, ref: string): Promise<FoundRecord> {
  const cid = cidAlone(ref)
  if (cid === undefined) {
    const run = node.runs.findRun(ref)
    if (run === undefined) throw new RunNotFoundError(ref)
    const text = node.runs.provenance(run.id)
    if (text === undefined) {
      throw new RecordNotFoundError(`run ${run.id} has no provenance record: ` +
        `only a run that ended with a result has one (it is ${run.status}${run.resultCid === undefined ? ', without a result' : ''})`)
    }
    return { envelope: parseEnvelope(text), runId: run.id, ...(run.provenanceCid !== undefined ? { cid: run.provenanceCid } : {}) }
  }
  const run = node.runs.listRuns({ cid, limit: 200 }).find((r) => r.resultCid === cid && r.provenanceCid !== undefined)
  if (run !== undefined) {
    const text = node.runs.provenance(run.id)
    if (text !== undefined) return { envelope: parseEnvelope(text), runId: run.id, ...(run.provenanceCid !== undefined ? { cid: run.provenanceCid } : {}) }
  }
  // a record named by its own CID
  if (await node.store.has(cid)) {
    try {
      return { envelope: await readEnvelope(node.store, cid), cid }
    } catch {
      // content that is not a record (a folder, another file): there is no record of it here
    }
  }
  throw new RecordNotFoundError(`no provenance record of ${cid} here: no run of this node produced it; ` +
    `give the record with --record <file|cid> (bac provenance --envelope prints one on the node that ran it)`)
}

/** The statement a record holds, checked to be an in-toto v1 statement. */
export function statementOf (envelope: Envelope): Statement {
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) throw new UserError(`the record's payload is ${envelope.payloadType}, not an in-toto statement (${IN_TOTO_PAYLOAD_TYPE})`)
  const body = envelopeBody(envelope) as Partial<Statement> | null
  const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v)
  if (!isObject(body) || body?._type !== IN_TOTO_STATEMENT_V1 || !Array.isArray(body.subject) || !body.subject.every(isObject) || typeof body.predicateType !== 'string' || !isObject(body.predicate)) {
    throw new UserError(`the record is not an in-toto statement (${IN_TOTO_STATEMENT_V1})`)
  }
  return body as Statement
}

export interface VerifyOptions {
  /** Whether a peer id's signature counts: the node's own key and its trusted peers'. */
  readonly trusted: (peerId: string) => boolean
  /** The record to check, when not this node's own (its JSON, or the CID of it in the content store). */
  readonly record?: Envelope
}

export interface Verification {
  readonly ok: boolean
  /** Why it does not verify (empty when it does). */
  readonly problems: readonly string[]
  /** What was checked, one line each. */
  readonly checked: readonly string[]
  readonly record: FoundRecord
  readonly statement?: Statement<Provenance>
}

const annotation = (d: ResourceDescriptor, key: string): unknown => (d.annotations as Record<string, unknown> | undefined)?.[key]

/** Checks one envelope's signatures: every one must verify, and at least one be by a trusted key. */
async function signaturesOf (envelope: Envelope, trusted: (peerId: string) => boolean, what: string, problems: string[], checked: string[]): Promise<string[]> {
  const sigs = await checkSignatures(envelope)
  if (sigs.length === 0) problems.push(`${what} is not signed`)
  for (const s of sigs) {
    if (!s.valid) problems.push(`${what}: the signature by ${s.keyid} does not verify (the record was changed, or the key is not an Ed25519 peer id)`)
    else if (!trusted(s.keyid)) problems.push(`${what} is signed by ${s.keyid}, which this node does not trust (add it with --trust or to trusted-peers)`)
    else checked.push(`${what}: signed by ${s.keyid}`)
  }
  return sigs.filter((s) => s.valid).map((s) => s.keyid)
}

/**
 * Checks a result CID against its provenance record: the record's signatures (by this node or a
 * trusted peer), its subject (the result), the attestations of the peers that ran its steps,
 * and, when the result's folders are in the store here, that they make the result again.
 */
export async function verifyResult (node: RecordSource, resultCid: string, options: VerifyOptions): Promise<Verification> {
  const cid = cidAlone(resultCid)
  if (cid === undefined) throw new UserError(`'${resultCid}' is not a CID`)
  const record = options.record !== undefined ? { envelope: options.record } : await findRecord(node, cid)
  const problems: string[] = []
  const checked: string[] = []
  let statement: Statement
  try {
    statement = statementOf(record.envelope)
  } catch (err) {
    return { ok: false, problems: [(err as Error).message], checked, record }
  }
  const signers = await signaturesOf(record.envelope, options.trusted, 'the record', problems, checked)
  if (statement.predicateType !== SLSA_PROVENANCE_V1) problems.push(`the record's predicate is ${statement.predicateType}, not SLSA provenance v1`)
  const subject = statement.subject[0]
  const expected = contentDescriptor(cid)
  if (subject === undefined || cidOfUri(subject.uri) !== cid) problems.push(`the record is of ${String(subject?.uri ?? 'nothing')}, not of ${cid}`)
  else if (subject.digest?.sha256 !== expected.digest?.sha256) problems.push('the record\'s subject digest is not the result\'s root block digest')
  else checked.push(`the record is of ${cid}`)
  const provenance = statement.predicate as Partial<Provenance>
  if (typeof provenance.runDetails !== 'object' || provenance.runDetails === null || typeof provenance.buildDefinition !== 'object' || provenance.buildDefinition === null) {
    return { ok: false, problems: [...problems, 'the record has no buildDefinition or runDetails'], checked, record }
  }
  const builder = typeof provenance.runDetails.builder === 'object' && provenance.runDetails.builder !== null ? provenance.runDetails.builder.id : undefined
  if (provenance.buildDefinition.buildType !== BAC_BUILD_TYPE) problems.push(`the record's buildType is not ${BAC_BUILD_TYPE}`)
  if (typeof builder !== 'string' || !signers.some((s) => builder === `urn:bac:node:${s}`)) problems.push(`the record names its builder ${String(builder)}, which did not sign it`)
  const runId = typeof provenance.runDetails.metadata === 'object' && provenance.runDetails.metadata !== null ? provenance.runDetails.metadata.invocationId : undefined
  // a descriptor that is not an object is not one: it is left out, and counts for nothing
  const byproducts = (Array.isArray(provenance.runDetails?.byproducts) ? provenance.runDetails.byproducts : [])
    .filter((d): d is ResourceDescriptor => typeof d === 'object' && d !== null && !Array.isArray(d) && typeof d.name === 'string')
  const builderId = typeof builder === 'string' ? builder.slice('urn:bac:node:'.length) : ''
  // each step instance run by another node (or taken from another node's cache) carries that node's signature
  for (const d of byproducts) {
    const name = String(d.name ?? '')
    if (!name.startsWith('attempt:') && !name.startsWith('cached:')) continue
    const ran = annotation(d, 'node')
    const outputs = cidOfUri(d.uri)
    if (outputs === undefined || ran === builderId) continue
    const given = annotation(d, 'attestation')
    if (given === undefined) {
      problems.push(`${name} ran on node ${String(ran)}, and the record holds no attestation of it by that node`)
      continue
    }
    let attestation: Envelope
    try {
      attestation = parseEnvelope(given)
    } catch (err) {
      problems.push(`${name}: its attestation is broken: ${(err as Error).message}`)
      continue
    }
    const by = await signaturesOf(attestation, options.trusted, `${name}'s attestation`, problems, [])
    let inner: Statement<{ run?: unknown, outputsCid?: unknown, node?: unknown, key?: unknown } | null>
    try {
      inner = statementOf(attestation) as typeof inner
    } catch (err) {
      problems.push(`${name}: its attestation is broken: ${(err as Error).message}`)
      continue
    }
    if (typeof inner.predicate !== 'object' || inner.predicate === null) {
      problems.push(`${name}: its attestation has no predicate`)
      continue
    }
    if (inner.predicateType !== BAC_EXECUTION_V1) problems.push(`${name}: its attestation is not a bac execution`)
    if (!by.includes(String(ran)) || inner.predicate.node !== ran) problems.push(`${name}: its attestation is not signed by node ${String(ran)}, which ran it`)
    if (inner.predicate.outputsCid !== outputs || cidOfUri(inner.subject[0]?.uri) !== outputs) problems.push(`${name}: its attestation is of other outputs than the record says`)
    if (name.startsWith('attempt:') && inner.predicate.run !== runId) problems.push(`${name}: its attestation is of run ${String(inner.predicate.run)}, not ${String(runId)}`)
    // an answer from another node's cache is for the work this step was: its memo key
    if (name.startsWith('cached:') && inner.predicate.key !== annotation(d, 'key')) problems.push(`${name}: its attestation answers another memo key than the step's`)
    if (!problems.some((p) => p.startsWith(name))) checked.push(`${name}: attested by ${String(ran)}`)
  }
  // the result is the record's step folders, put together: built again from them, it is the same CID
  const folders = Object.fromEntries(byproducts.flatMap((d) => {
    const name = String(d.name ?? '')
    const c = cidOfUri(d.uri)
    return /^[^:]+\/[^/:]+$/.test(name) && c !== undefined ? [[name, c]] : []
  }))
  if (Object.keys(folders).length === 0) {
    problems.push('the record lists no step outputs')
  } else if ((await Promise.all(Object.values(folders).map(async (c) => await node.store.has(c)))).every(Boolean)) {
    const again = await node.store.compose(folders)
    if (again !== cid) problems.push(`the record's step outputs make ${again}, not ${cid}`)
    else checked.push(`the record's ${Object.keys(folders).length} step folders make ${cid} again`)
  } else {
    checked.push('the step outputs are not in this node\'s store: the result was not built again from them (bac ipfs get the result first to check it)')
  }
  return { ok: problems.length === 0, problems, checked, record, statement: statement as Statement<Provenance> }
}

/** The keys a node takes signatures of: its own, `--trust` peers and `<dataDir>/trusted-peers`. */
export function trustedKeys (dataDir: string, extra: readonly string[] = []): (peerId: string) => boolean {
  const own = loadNodeKey(dataDir).keyId
  const trust = new Trust({ dataDir, peers: extra })
  return (peerId) => peerId === own || trust.check(peerId, undefined) === undefined
}

/** A record given by the user: a file holding its JSON, or its CID in the content store. */
export async function recordFrom (node: RecordSource, ref: string): Promise<Envelope> {
  const cid = cidAlone(ref)
  if (cid !== undefined && !existsSync(ref)) return await readEnvelope(node.store, cid)
  return parseEnvelope(await readRegularFile(ref, MAX_ENVELOPE_BYTES, 'a provenance record'))
}

export interface Rerun {
  readonly ok: boolean
  readonly reason?: string
  readonly runId?: string
  readonly resultCid?: string
}

/**
 * Runs a recorded run's pipeline again on this node, with the recorded inputs and trigger and
 * no cache, and compares its result CID with the record's. What runs is pinned by the record:
 * the pipeline file must hold the bytes it gives the SHA-256 of (those bytes are what is
 * validated and run), each job template too, and content inputs (and a dropped file) are taken
 * by CID from this node's store, never by a path the record names.
 */
export async function rerunRecord (
  node: RecordSource & { run: (pipeline: Pipeline, options?: RunOptions) => Promise<RunOutcome> },
  statement: Statement<Provenance>,
  resultCid: string,
  signal?: AbortSignal
): Promise<Rerun> {
  const definition = statement.predicate.buildDefinition
  const params = definition.externalParameters as { pipeline?: { path?: unknown }, inputs?: unknown, trigger?: unknown }
  const file = params.pipeline?.path
  if (typeof file !== 'string' || !path.isAbsolute(file)) return { ok: false, reason: 'the record names no pipeline file' }
  const deps = Array.isArray(definition.resolvedDependencies) ? definition.resolvedDependencies : []
  const recorded = deps.find((d) => d?.name === 'pipeline' && d.uri === `file://${file}`)
  if (recorded?.digest?.sha256 === undefined || annotation(recorded, 'notTheFile') === true) {
    return { ok: false, reason: 'the record gives no digest of the pipeline file that ran (it was not the file on disk), so it cannot be run again' }
  }
  let bytes: Buffer
  try {
    bytes = await readRegularFile(file, 64 * 1024 * 1024, 'a pipeline file')
  } catch (err) {
    return { ok: false, reason: `${file} cannot be read: ${(err as Error).message}` }
  }
  const now = createHash('sha256').update(bytes).digest('hex')
  if (now !== recorded.digest.sha256) return { ok: false, reason: `${file} has changed since the run (its SHA-256 was ${recorded.digest.sha256.slice(0, 12)}…, it is ${now.slice(0, 12)}…)` }
  // the very bytes that were hashed are validated and run
  const validation = createValidator().validatePipelineText(file, bytes.toString('utf8'))
  const pipeline = validation.value
  if (pipeline === undefined) return { ok: false, reason: `${file} does not validate: ${validation.errors[0]?.message ?? 'errors'}` }
  for (const step of Object.values(pipeline.steps)) {
    if (step.uses === undefined) continue
    const dep = deps.find((d) => d?.name === `jobstore/${step.uses?.ref ?? ''}` && d.uri === `file://${step.uses?.template.file ?? ''}`)
    if (dep?.digest?.sha256 === undefined || dep.digest.sha256 !== step.uses.template.sha256) {
      return { ok: false, reason: `the job template ${step.uses.template.file} is not the one the record gives (or has changed since the run)` }
    }
  }
  const given = (typeof params.inputs === 'object' && params.inputs !== null ? params.inputs : {}) as Record<string, unknown>
  const inputs: Record<string, GivenInput> = {}
  for (const [name, spec] of Object.entries(pipeline.inputs)) {
    const value = given[name]
    if (value === undefined) continue
    if (spec.type === 'file' || spec.type === 'cid') {
      const cid = typeof value === 'object' && value !== null ? (value as { cid?: unknown }).cid : undefined
      const root = typeof cid === 'string' ? cidAlone(cid.split('/')[0] ?? '') : undefined
      if (root === undefined || typeof cid !== 'string') return { ok: false, reason: `the record gives input '${name}' as no CID` }
      if (!await node.store.has(root)) return { ok: false, reason: `input '${name}' (${cid}) is not in this node's store: bac ipfs get it here first` }
      inputs[name] = { cid, name: String((value as { name?: unknown }).name ?? name).slice(0, 255) }
    } else {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return { ok: false, reason: `the record gives input '${name}' as no value` }
      inputs[name] = String(value)
    }
  }
  const trigger = typeof params.trigger === 'object' && params.trigger !== null ? params.trigger as Record<string, unknown> : { kind: 'manual' }
  if (!['manual', 'watch', 'message', 'schedule'].includes(String(trigger.kind))) return { ok: false, reason: 'the record gives a trigger bac does not have' }
  if (trigger.file !== undefined) {
    const cid = (trigger.file as { cid?: unknown } | null)?.cid
    const root = typeof cid === 'string' ? cidAlone(cid) : undefined
    if (root === undefined || root !== cid) return { ok: false, reason: 'the record gives a dropped file without its CID' }
    if (!await node.store.has(root)) return { ok: false, reason: `the dropped file (${root}) is not in this node's store: bac ipfs get it here first` }
  }
  const outcome = await node.run(pipeline, {
    inputs,
    trigger: trigger as unknown as TriggerInfo,
    noCache: true,
    outputsDir: null,
    ...(signal !== undefined ? { signal } : {})
  })
  if (outcome.resultCid === undefined) {
    return { ok: false, runId: outcome.runId, reason: `the run again ${outcome.status} without a result${outcome.reason !== undefined ? ` (${outcome.reason})` : ''}` }
  }
  if (outcome.resultCid !== resultCid) return { ok: false, runId: outcome.runId, resultCid: outcome.resultCid, reason: `run again, it gives ${outcome.resultCid}, not ${resultCid}` }
  return { ok: true, runId: outcome.runId, resultCid: outcome.resultCid }
}
