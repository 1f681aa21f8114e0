import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import path from 'node:path'
import { UnsafeContentError } from '../interfaces/errors.js'
import { createFsStore } from './fs-store.js'

/**
 * Writes the file or folder `root` from a CAR stream to `target` (which must not exist),
 * atomically. The blocks are kept only for as long as it takes, in a folder beside `target`.
 */
export async function writeCarOut (car: AsyncIterable<Uint8Array>, root: string, target: string): Promise<void> {
  mkdirSync(path.dirname(target), { recursive: true })
  const scratch = mkdtempSync(path.join(path.dirname(target), `.${path.basename(target)}.blocks-`))
  const store = createFsStore({ dataDir: scratch })
  await store.start()
  try {
    const roots = await store.importCar(car)
    const first = roots[0]
    // a sub-path's CAR is rooted at the sub-path's own CID, which the caller may not know
    if (first === undefined || (!root.includes('/') && first !== root)) throw new UnsafeContentError('the CAR stream', `is rooted at ${roots.join(', ') || 'nothing'}, not at ${root}`)
    await store.get(first, target)
  } finally {
    await store.stop()
    rmSync(scratch, { recursive: true, force: true })
  }
}
