import { linkSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { IMAGES } from './paths.js'

/**
 * An images folder holding only `names` of the images test setup built, linked (not copied) and
 * with no saved VM state: a step there boots its machine from scratch.
 */
export function linkImages (into: string, names: readonly string[]): void {
  mkdirSync(path.join(into, 'names'), { recursive: true })
  for (const name of names) {
    const digest = readFileSync(path.join(IMAGES, 'names', name), 'utf8').trim()
    const dir = digest.replace(':', '-')
    mkdirSync(path.join(into, dir), { recursive: true })
    for (const file of readdirSync(path.join(IMAGES, dir))) linkSync(path.join(IMAGES, dir, file), path.join(into, dir, file))
    writeFileSync(path.join(into, 'names', name), `${digest}\n`)
  }
}
