import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { GetOptions } from '../interfaces/content-store.js'
import { UnsafeContentError } from '../interfaces/errors.js'
import { importCar } from './car.js'
import { materialize } from './materialize.js'
import { PackBlockstore } from './pack-blockstore.js'
import { abortable, parseContentPath, resolvePath } from './unixfs-store.js'

/**
 * Writes the file or folder `source` (a CID, or `cid/path`) from a CAR stream to `target` (which
 * must not exist), atomically, trusting nothing the stream holds: every block must hash to its
 * CID, the CAR must be rooted at the CID asked for (for `cid/path`, it holds the blocks down the
 * path, as `exportCar` writes them), and what is written out is checked as `ContentStore.get`
 * checks it. The blocks are kept only for as long as it takes, in a folder beside `target`.
 */
export async function writeCarOut (car: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, source: string, target: string, options: GetOptions = {}): Promise<void> {
  const { cid } = parseContentPath(source)
  if (existsSync(target)) throw new UnsafeContentError(target, 'already exists; give a path that does not exist yet')
  mkdirSync(path.dirname(target), { recursive: true })
  const scratch = mkdtempSync(path.join(path.dirname(target), `.${path.basename(target)}.blocks-`))
  const blockstore = new PackBlockstore(scratch)
  await blockstore.open()
  try {
    const roots = await importCar(abortable(car, options.signal), blockstore, 'the CAR stream')
    if (roots.length !== 1 || !(roots[0] as typeof cid).equals(cid)) {
      throw new UnsafeContentError('the CAR stream', `is rooted at ${roots.join(', ') || 'nothing'}, not at ${cid.toString()}, the CID asked for`)
    }
    await materialize(await resolvePath(source, blockstore, options.signal), source, target, blockstore, options)
  } catch (err) {
    // a block the stream should have held, and did not
    if (err instanceof Error && /NotFound/.test(err.name)) throw new UnsafeContentError('the CAR stream', `does not hold all of ${source} (${err.message})`)
    throw err
  } finally {
    await blockstore.close()
    rmSync(scratch, { recursive: true, force: true })
  }
}
