import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

let root: string | undefined

/**
 * bac's package folder: the nearest folder above this module that holds a package.json. The
 * same answer from src/, dist/, the bundled CLI in dist/bin/, and an installed package.
 */
export function packageRoot (): string {
  if (root !== undefined) return root
  let dir = path.dirname(fileURLToPath(import.meta.url))
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error(`bac's package.json not found above ${fileURLToPath(import.meta.url)}`)
    dir = parent
  }
  root = dir
  return root
}
