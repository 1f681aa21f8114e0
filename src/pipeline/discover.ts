import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { kindOf } from '../common/files.js'
import { UsageError } from '../interfaces/errors.js'

const YAML_FILE = /\.ya?ml$/i
const SKIPPED_DIRS = new Set(['node_modules', '.git'])

/**
 * Expands files and folders into the YAML files to validate: a regular file is taken as is; a
 * folder is searched recursively for regular `.yml`/`.yaml` files (skipping `node_modules` and dot
 * folders; a symbolic link counts when it names a regular file, and is never followed into a
 * folder). A path that does not exist or names something else (a FIFO, a socket, a device), or
 * paths holding no YAML file at all, are usage errors: nothing is opened to find out.
 */
export function discoverFiles (paths: readonly string[]): string[] {
  const files: string[] = []
  for (const given of paths) {
    let stat
    try {
      stat = statSync(given)
    } catch {
      throw new UsageError(`${given}: no such file or folder`)
    }
    if (stat.isDirectory()) files.push(...walk(given))
    else if (stat.isFile()) files.push(given)
    else throw new UsageError(`${given} is ${kindOf(stat)}, not a file or folder; bac validates regular files only`)
  }
  if (files.length === 0) throw new UsageError(`no .yml or .yaml files in ${paths.join(', ')}`)
  return [...new Set(files)]
}

function walk (dir: string): string[] {
  const found: string[] = []
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))
  for (const entry of entries) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.') && !SKIPPED_DIRS.has(entry.name)) found.push(...walk(full))
    } else if (YAML_FILE.test(entry.name) && (entry.isFile() || (entry.isSymbolicLink() && isRegularFile(full)))) {
      found.push(full)
    }
  }
  return found
}

/** Whether a path (links followed) names a regular file; false when it names nothing. */
function isRegularFile (file: string): boolean {
  try {
    return statSync(file).isFile()
  } catch {
    return false
  }
}
