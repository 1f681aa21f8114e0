import { createReadStream } from 'node:fs'
import { lstat, readdir } from 'node:fs/promises'
import path from 'node:path'
import type { ImportCandidate } from 'ipfs-unixfs-importer'
import { UnsafeContentError } from '../interfaces/errors.js'

/** The name the root folder gets inside an import; a folder's CID does not depend on it. */
export const ROOT_NAME = 'root'

/**
 * The files and folders under `dir` as import candidates, under `root/…`, folders included even
 * when empty, hidden files included. Symbolic links and special files are refused: what a step
 * writes must not point outside itself once stored.
 */
export async function * folderSource (dir: string, signal?: AbortSignal): AsyncGenerator<ImportCandidate> {
  const pending: string[] = ['']
  while (pending.length > 0) {
    const relative = pending.shift() as string
    const entries = (await readdir(path.join(dir, relative), { withFileTypes: true })).sort((a, b) => a.name < b.name ? -1 : 1)
    yield { path: relative === '' ? ROOT_NAME : `${ROOT_NAME}/${relative}` }
    for (const entry of entries) {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`
      if (entry.isDirectory()) pending.push(child)
      else if (entry.isFile()) yield { path: `${ROOT_NAME}/${child}`, content: createReadStream(path.join(dir, child), { signal }) }
      else {
        const kind = (await lstat(path.join(dir, child))).isSymbolicLink() ? 'a symbolic link' : 'a special file'
        throw new UnsafeContentError(path.join(dir, child), `is ${kind}; only files and folders can be stored`)
      }
    }
  }
}
