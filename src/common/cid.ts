import { CID } from 'multiformats/cid'
import { InvalidCidError } from '../interfaces/errors.js'

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
