import { CID } from 'multiformats/cid'
import { InvalidCidError } from '../interfaces/errors.js'
import type { ResourceDescriptor } from '../interfaces/provenance.js'

/** Splits `cid`, `cid/sub/path` or `/ipfs/cid/sub/path`, checking the CID parses (`InvalidCidError` otherwise). */
export function parseContentPath (text: string): { cid: CID, path: string } {
  const trimmed = text.replace(/^\/ipfs\//, '')
  const [first = '', ...rest] = trimmed.split('/')
  try {
    return { cid: CID.parse(first), path: rest.filter((s) => s !== '').join('/') }
  } catch (err) {
    throw new InvalidCidError(text, { cause: err })
  }
}

/** Whether `text` names content by CID: `cid`, `cid/sub/path` or `/ipfs/cid/sub/path`. */
export function isContentPath (text: string): boolean {
  try {
    parseContentPath(text)
    return true
  } catch {
    return false
  }
}

/** The CID `text` names alone (`cid` or `/ipfs/cid`, no path), as CIDs are written; undefined for anything else. */
export function cidAlone (text: string): string | undefined {
  try {
    const { cid, path } = parseContentPath(text)
    return path === '' ? cid.toString() : undefined
  } catch {
    return undefined
  }
}

/**
 * Content as an in-toto ResourceDescriptor: `uri` is `ipfs://<cid>`, and `digest.sha256` the
 * SHA-256 of its root block (what the CID's multihash holds), so a verifier that knows no CIDs
 * still has a standard digest. A CID hashed otherwise has its `uri` alone.
 */
export function contentDescriptor (cid: string, name?: string, annotations?: Readonly<Record<string, unknown>>): ResourceDescriptor {
  const parsed = CID.parse(cid)
  const sha256 = parsed.multihash.code === 0x12 ? Buffer.from(parsed.multihash.digest).toString('hex') : undefined
  return {
    ...(name !== undefined ? { name } : {}),
    uri: `ipfs://${parsed.toString()}`,
    ...(sha256 !== undefined ? { digest: { sha256 } } : {}),
    ...(annotations !== undefined ? { annotations } : {})
  }
}

/** The CID an `ipfs://<cid>` URI names, or undefined. */
export function cidOfUri (uri: unknown): string | undefined {
  return typeof uri === 'string' && uri.startsWith('ipfs://') ? cidAlone(uri.slice('ipfs://'.length)) : undefined
}
