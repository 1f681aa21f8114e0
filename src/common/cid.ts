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
