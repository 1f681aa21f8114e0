import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { UsageError } from '../interfaces/errors.js'

const YAML_FILE = /\.ya?ml$/i
const SKIPPED_DIRS = new Set(['node_modules', '.git'])

/**
 * Expands files and folders into the YAML files to validate: a file is taken as is; a folder
 * is searched recursively for `.yml`/`.yaml` files (skipping `node_modules` and dot folders).
 * A path that does not exist, or paths holding no YAML file at all, are usage errors.
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
    else files.push(given)
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
    } else if (entry.isFile() && YAML_FILE.test(entry.name)) {
      found.push(full)
    }
  }
  return found
}
