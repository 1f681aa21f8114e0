import type { PathScope } from '../interfaces/content-store.js'
import { lstat, readdir, realpath } from 'node:fs/promises'
import path from 'node:path'
import type { ImportCandidate } from 'ipfs-unixfs-importer'
import { assertInside, openRegularFile } from '../common/files.js'
import { UnsafeContentError } from '../interfaces/errors.js'

/** The name the root folder gets inside an import; a folder's CID does not depend on it. */
export const ROOT_NAME = 'root'

/**
 * The files and folders under `dir` as import candidates, under `root/…`, folders included even
 * when empty, hidden files included. Symbolic links and special files are refused: what a step
 * writes must not point outside itself once stored.
 */
export async function * folderSource (dir: string, signal?: AbortSignal, within?: PathScope): AsyncGenerator<ImportCandidate> {
  const pending: string[] = ['']
  while (pending.length > 0) {
    const relative = pending.shift() as string
    if (within !== undefined) {
      const real = await realpath(path.join(dir, relative))
      assertInside(path.join(dir, relative), real, within, real)
    }
    const entries = (await readdir(path.join(dir, relative), { withFileTypes: true })).sort((a, b) => a.name < b.name ? -1 : 1)
    yield { path: relative === '' ? ROOT_NAME : `${ROOT_NAME}/${relative}` }
    for (const entry of entries) {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`
      if (entry.isDirectory()) pending.push(child)
      else if (entry.isFile()) yield { path: `${ROOT_NAME}/${child}`, content: fileContent(path.join(dir, child), within, signal) }
      else {
        const kind = (await lstat(path.join(dir, child))).isSymbolicLink() ? 'a symbolic link' : 'a special file'
        throw new UnsafeContentError(path.join(dir, child), `is ${kind}; only files and folders can be stored`)
      }
    }
  }
}

/** A file's bytes, opened as a regular file only when the importer gets to it (checked against `within` as opened). */
async function * fileContent (file: string, within: PathScope | undefined, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const { handle } = await openRegularFile(file, { noatime: true, ...(within !== undefined ? { within } : {}) })
  try {
    for await (const chunk of handle.createReadStream({ autoClose: false, signal })) yield chunk as Buffer
  } finally {
    await handle.close()
  }
}
