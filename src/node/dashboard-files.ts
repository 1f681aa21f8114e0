import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Where the dashboard's built files are (`dist/dashboard`, made by `npm run build`): found from
 * this module's place, whether it runs from dist/ (the library or the CLI's bundle) or from the
 * sources. Undefined when the dashboard was not built.
 */
export function dashboardDir (): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (let up = 0; up < 5; up++) {
    // built files only (the sources' dashboard/ has an index.html too, but no assets)
    for (const candidate of [path.join(dir, 'dashboard'), path.join(dir, 'dist', 'dashboard')]) {
      if (existsSync(path.join(candidate, 'index.html')) && existsSync(path.join(candidate, 'assets', 'app.js'))) return candidate
    }
    dir = path.dirname(dir)
  }
  return undefined
}
