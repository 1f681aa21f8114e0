import { existsSync, statSync } from 'node:fs'
import path from 'node:path'

/** The folder of reusable job templates inside a project. */
export const JOBSTORE_DIR = 'jobstore'

/** The nearest folder at or above `dir` that holds a `jobstore/` folder. */
export function findProjectRoot (dir: string): string | undefined {
  let current = path.resolve(dir)
  for (;;) {
    if (isDirectory(path.join(current, JOBSTORE_DIR))) return current
    const parent = path.dirname(current)
    if (parent === current) return undefined
    current = parent
  }
}

function isDirectory (p: string): boolean {
  try {
    return statSync(p).isDirectory()
  } catch {
    return false
  }
}

/**
 * Resolves a step's `uses`: relative to the pipeline's folder, then to the project root, then
 * inside the project's `jobstore/`; `.yml`/`.yaml` may be left out (`uses: extract`).
 * Returns the file, or every place that was tried. `roots` caches project roots by folder.
 */
export function resolveUses (ref: string, pipelineFile: string, roots: Map<string, string | undefined> = new Map()): { file: string } | { tried: string[] } {
  const base = path.dirname(pipelineFile)
  if (!roots.has(base)) roots.set(base, findProjectRoot(base))
  const root = roots.get(base)
  const bases = [base, ...(root === undefined ? [] : [root, path.join(root, JOBSTORE_DIR)])]
  const tried: string[] = []
  const names = path.extname(ref) === '' ? [`${ref}.yml`, `${ref}.yaml`, ref] : [ref]
  for (const dir of bases) {
    for (const name of names) {
      const candidate = path.resolve(dir, name)
      if (tried.includes(candidate)) continue
      tried.push(candidate)
      if (existsSync(candidate) && statSync(candidate).isFile()) return { file: candidate }
    }
  }
  return { tried }
}

/** Whether a file is a job template by its place: inside a folder named `jobstore`. */
export function isJobFile (file: string): boolean {
  return path.resolve(file).split(path.sep).slice(0, -1).includes(JOBSTORE_DIR)
}
