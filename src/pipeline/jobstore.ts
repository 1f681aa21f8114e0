import { statSync } from 'node:fs'
import path from 'node:path'
import { regularFiles, type ValidatorFiles } from './files.js'

/** The folder of reusable job templates inside a project. */
export const JOBSTORE_DIR = 'jobstore'

type KindOf = ValidatorFiles['kind']

/**
 * Whether a folder is one no other user may have filled: not writable by everyone (as /tmp is),
 * and owned by this user or root. A folder that does not say is not.
 */
function ownFolder (folder: string): boolean {
  try {
    const info = statSync(folder)
    const uid = process.getuid?.()
    return (info.mode & 0o002) === 0 && (uid === undefined || info.uid === uid || info.uid === 0)
  } catch {
    return false
  }
}

/**
 * The nearest folder at or above `dir` that holds a `jobstore/` folder (looked for with `kind`).
 * The search stops at a folder another user may have written (everyone may write /tmp; another
 * user owns theirs): a `jobstore/` there, or above it, could be anyone's, and is never used.
 */
export function findProjectRoot (dir: string, kind: KindOf = regularFiles().kind): string | undefined {
  let current = path.resolve(dir)
  for (;;) {
    if (!ownFolder(current)) return undefined
    const jobstore = path.join(current, JOBSTORE_DIR)
    if (kind(jobstore) === 'folder' && ownFolder(jobstore)) return current
    const parent = path.dirname(current)
    if (parent === current) return undefined
    current = parent
  }
}

/**
 * Resolves a step's `uses`: relative to the pipeline's folder, then to the project root, then
 * inside the project's `jobstore/`; `.yml`/`.yaml` may be left out (`uses: extract`).
 * Returns the file, or every place that was tried. `roots` caches project roots by folder; `kind`
 * says what a path is (the validator's `files.kind`): a folder is passed over, anything else is
 * taken (the validator's reader refuses what is not a regular file, and says so).
 */
export function resolveUses (ref: string, pipelineFile: string, roots: Map<string, string | undefined> = new Map(), kind: KindOf = regularFiles().kind): { file: string } | { tried: string[] } {
  const base = path.dirname(pipelineFile)
  if (!roots.has(base)) roots.set(base, findProjectRoot(base, kind))
  const root = roots.get(base)
  const bases = [base, ...(root === undefined ? [] : [root, path.join(root, JOBSTORE_DIR)])]
  const tried: string[] = []
  const names = path.extname(ref) === '' ? [`${ref}.yml`, `${ref}.yaml`, ref] : [ref]
  for (const dir of bases) {
    for (const name of names) {
      const candidate = path.resolve(dir, name)
      if (tried.includes(candidate)) continue
      tried.push(candidate)
      // something that is not a regular file (a FIFO, a device) is taken, for the read to refuse it by name
      const found = kind(candidate)
      if (found === 'file' || found === 'other') return { file: candidate }
    }
  }
  return { tried }
}

/** Whether a file is a job template by its place: inside a folder named `jobstore`. */
export function isJobFile (file: string): boolean {
  return path.resolve(file).split(path.sep).slice(0, -1).includes(JOBSTORE_DIR)
}
