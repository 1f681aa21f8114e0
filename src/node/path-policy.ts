import { realpathSync, statSync } from 'node:fs'
import path from 'node:path'
import { assertInside, isInside } from '../common/files.js'
import type { PathScope } from '../interfaces/content-store.js'
import { PathNotAllowedError, UsageError } from '../interfaces/errors.js'
import { findProjectRoot } from '../pipeline/index.js'

/** The real path of `target`, or of its nearest existing ancestor with the rest appended (links resolved as far as they exist). */
function realOrPlanned (target: string): string {
  const missing: string[] = []
  let current = path.resolve(target)
  for (;;) {
    try {
      return path.join(realpathSync(current), ...missing.reverse())
    } catch (err) {
      const parent = path.dirname(current)
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw err
      missing.push(path.basename(current))
      current = parent
    }
  }
}

/**
 * The folders a serving node lets callers name (HTTP API requests, message fields): input paths,
 * `cwd` and `outputsDir` must lie in one of them, symbolic links resolved. By default: each
 * pipelines folder (a file's folder) and the project folder around it (the nearest folder holding
 * `jobstore/`, where `uses:` finds job templates and their scripts). The node's data dir is never
 * allowed, even inside such a folder: it holds the node's token, key, runs and content; nor is a
 * hidden file or folder in them (`.git`, `.env`).
 */
export class PathPolicy {
  /** Real paths, each once. */
  readonly roots: readonly string[]
  /** Real folders never allowed, whatever the roots: the data dir. */
  readonly except: readonly string[]

  constructor (folders: readonly string[], dataDir: string) {
    const roots: string[] = []
    for (const folder of folders) {
      const real = realOrPlanned(folder)
      if (!roots.some((r) => isInside(real, r))) roots.push(real)
    }
    this.roots = roots.filter((r, i) => !roots.some((o, j) => j !== i && o !== r && isInside(r, o)))
    this.except = [realOrPlanned(dataDir)]
  }

  /** The scope the engine and the stores check paths against. */
  get scope (): PathScope {
    return { roots: this.roots, except: this.except, noHidden: true }
  }

  /** The default roots of a node: its pipelines folders and their project folders. */
  static defaults (pipelineFolders: readonly string[], dataDir: string): PathPolicy {
    const folders = pipelineFolders.flatMap((f) => {
      const project = findProjectRoot(f)
      return project === undefined ? [f] : [f, project]
    })
    return new PathPolicy(folders, dataDir)
  }

  /**
   * The real path of an existing file or folder a caller named, after checking that it lies in
   * the roots; `what` names it in the error ("input 'archive'", "cwd").
   */
  existing (given: string, base: string, what: string): string {
    const absolute = path.resolve(base, given)
    let real: string
    try {
      real = realpathSync(absolute)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`${what}: ${given} does not exist on this node (looked for ${absolute})`)
      throw new UsageError(`${what}: ${given} cannot be read on this node: ${(err as Error).message}`)
    }
    this.assert(absolute, real, what, statSync(real).isDirectory() ? real : path.dirname(real))
    return real
  }

  /** The path a folder to be written would have (it may not exist yet), checked to lie in the roots. */
  writable (given: string, base: string, what: string): string {
    const absolute = path.resolve(base, given)
    const real = realOrPlanned(absolute)
    this.assert(absolute, real, what, real)
    return real
  }

  private assert (shown: string, real: string, what: string, allow: string): void {
    try {
      assertInside(shown, real, this.scope, allow)
    } catch (err) {
      if (err instanceof PathNotAllowedError) throw new PathNotAllowedError(`${what}: ${err.path}`, this.roots, allow, err.reason)
      throw err
    }
  }
}
