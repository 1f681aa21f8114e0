import { existsSync } from 'node:fs'
import path from 'node:path'
import type { AddPathOptions, ContentStore } from '../interfaces/content-store.js'
import { InputError, UserError } from '../interfaces/errors.js'

/** A piece of content a step reads: its CID (or `cid/path`) and a display name. */
export interface DataRef {
  readonly cid: string
  readonly name: string
}

/**
 * Resolves a data reference: a CID (`Qm…`, `cid/path`, `/ipfs/cid/path`) must be in the store;
 * anything else is a path (relative to `baseDir`) that is added to the store. With `within`, the
 * path must really lie in one of those folders (checked on what is opened, links resolved).
 */
export async function resolveData (input: string, value: string, baseDir: string, store: ContentStore, options: AddPathOptions = {}): Promise<DataRef> {
  try {
    const stat = await store.stat(value, options)
    return { cid: value.replace(/^\/ipfs\//, ''), name: value.split('/').filter((s) => s !== '').pop() ?? stat.cid }
  } catch (err) {
    if ((err as Error).name === 'ContentNotFoundError') throw new InputError(input, (err as Error).message, { cause: err })
    if ((err as Error).name !== 'InvalidCidError') throw err
  }
  const file = path.resolve(baseDir, value)
  if (!existsSync(file)) throw new InputError(input, `${value} does not exist (looked for ${file}); give a path or a CID`)
  try {
    return { cid: await store.addPath(file, options), name: path.basename(file) }
  } catch (err) {
    // refused (a FIFO, a device, outside the allowed folders…): said of the input
    const refused = ['NotRegularFileError', 'PathNotAllowedError', 'UnsafeContentError', 'FileTooLargeError']
    if (err instanceof UserError && refused.includes(err.name)) throw new InputError(input, err.message, { cause: err })
    throw err
  }
}
