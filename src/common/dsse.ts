import { UserError } from '../interfaces/errors.js'
import type { Envelope, Signer } from '../interfaces/provenance.js'
import { parseUntrustedJson } from './json.js'
import { verifyByPeer } from './node-key.js'

/** Envelopes larger than this are refused unread (a record of thousands of steps stays far below). */
export const MAX_ENVELOPE_BYTES = 32 * 1024 * 1024
/** Signatures on one envelope, at most. */
const MAX_SIGNATURES = 16

/** DSSE's pre-authentication encoding, from sigstore's implementation (loaded when a record is signed or checked). */
async function pae (payloadType: string, payload: Buffer): Promise<Buffer> {
  // its DSSE module alone (the package's index loads X.509 and ASN.1 too: ~14 ms at each start);
  // a CommonJS module, whose exports are the namespace's default when Node cannot list them
  const dsse = await import('@sigstore/core/dist/dsse.js') as typeof import('@sigstore/core/dist/dsse.js') & { default?: typeof import('@sigstore/core/dist/dsse.js') }
  return (dsse.preAuthEncoding ?? dsse.default?.preAuthEncoding)(payloadType, payload)
}

/** Signs a JSON payload into a DSSE envelope. */
export async function signEnvelope (payloadType: string, body: unknown, signer: Signer): Promise<Envelope> {
  const payload = Buffer.from(JSON.stringify(body), 'utf8')
  const sig = signer.sign(await pae(payloadType, payload))
  return { payloadType, payload: payload.toString('base64'), signatures: [{ keyid: signer.keyId, sig: Buffer.from(sig).toString('base64') }] }
}

/** An envelope from JSON text or a parsed value, its shape checked; throws a one-line reason. */
export function parseEnvelope (value: unknown): Envelope {
  let v = value
  if (typeof v === 'string' || v instanceof Uint8Array) {
    if (v.length > MAX_ENVELOPE_BYTES) throw new UserError(`the envelope is larger than ${MAX_ENVELOPE_BYTES} bytes`)
    try {
      v = parseUntrustedJson(typeof v === 'string' ? v : Buffer.from(v).toString('utf8'), 'the envelope')
    } catch (err) {
      throw new UserError(`not a DSSE envelope: not JSON (${(err as Error).message})`)
    }
  }
  const e = v as Partial<Envelope> | null
  if (typeof e !== 'object' || e === null || typeof e.payloadType !== 'string' || typeof e.payload !== 'string' || !Array.isArray(e.signatures)) {
    throw new UserError('not a DSSE envelope: it needs payloadType, payload and signatures')
  }
  for (const s of e.signatures as unknown[]) {
    const sig = s as { keyid?: unknown, sig?: unknown } | null
    if (typeof sig !== 'object' || sig === null || typeof sig.keyid !== 'string' || typeof sig.sig !== 'string') throw new UserError('not a DSSE envelope: a signature needs keyid and sig')
  }
  if (e.payload.length > Math.ceil(MAX_ENVELOPE_BYTES / 3) * 4) throw new UserError(`not a DSSE envelope: its payload is larger than ${MAX_ENVELOPE_BYTES} bytes`)
  if (e.signatures.length > MAX_SIGNATURES) throw new UserError(`not a DSSE envelope: more than ${MAX_SIGNATURES} signatures`)
  if (e.payloadType.length > 256 || e.signatures.some((s) => s.keyid.length > 256 || s.sig.length > 1024)) {
    throw new UserError('not a DSSE envelope: a payload type, key id or signature longer than any is')
  }
  return { payloadType: e.payloadType, payload: e.payload, signatures: e.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })) }
}

/** The envelope's payload, parsed as JSON (depth-checked: it may come from anywhere). */
export function envelopeBody (envelope: Envelope): unknown {
  try {
    return parseUntrustedJson(Buffer.from(envelope.payload, 'base64').toString('utf8'), 'the envelope\'s payload')
  } catch (err) {
    throw new UserError(`the envelope's payload is not JSON: ${(err as Error).message}`)
  }
}

/** Each signature's key id and whether it verifies (with the key its peer id holds). */
export async function checkSignatures (envelope: Envelope): Promise<Array<{ keyid: string, valid: boolean }>> {
  const signed = await pae(envelope.payloadType, Buffer.from(envelope.payload, 'base64'))
  return envelope.signatures.map((s) => ({ keyid: s.keyid, valid: verifyByPeer(s.keyid, signed, Buffer.from(s.sig, 'base64')) }))
}

/**
 * A node's attestation of outputs (bac's execution predicate), when it is what it claims: a
 * well-formed envelope signed by `node`, whose predicate names that node, those outputs and,
 * when given, that run and that memo key. Anything else, however broken, is undefined.
 */
export async function attestedBy (value: unknown, expect: { readonly node: string, readonly outputsCid: string, readonly run?: string, readonly key?: string }): Promise<Envelope | undefined> {
  try {
    // its shape and size first: nothing of it is read before
    const envelope = parseEnvelope(value)
    const signatures = await checkSignatures(envelope)
    const p = (envelopeBody(envelope) as { predicate?: { run?: unknown, key?: unknown, outputsCid?: unknown, node?: unknown } } | null)?.predicate
    if (!signatures.some((s) => s.valid && s.keyid === expect.node) || p?.node !== expect.node || p.outputsCid !== expect.outputsCid) return undefined
    if ((expect.run !== undefined && p.run !== expect.run) || (expect.key !== undefined && p.key !== expect.key)) return undefined
    return envelope
  } catch {
    return undefined
  }
}
