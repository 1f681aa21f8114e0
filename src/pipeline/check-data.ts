import path from 'node:path'
import type { Severity } from '../interfaces/problem.js'
import type { ValidatorFiles } from './files.js'
import type { Findings } from './findings.js'
import { lazy, load } from './lazy.js'
import type { JsonPath } from './source.js'

const CID = lazy(() => (load('multiformats/cid') as typeof import('multiformats/cid')).CID)

/** Whether text parses as a CID. */
export function isCid (text: string): boolean {
  try {
    CID().parse(text)
    return true
  } catch {
    return false
  }
}

/** The CID of `<cid>`, `<cid>/sub/path` or `/ipfs/<cid>/sub/path`, if the text has that shape. */
export function cidPart (text: string): string | undefined {
  const match = /^(?:\/ipfs\/)?((?:Qm|baf|bag|bah|bai|baj|k51|z[1-9A-HJ-NP-Za-km-z])[A-Za-z0-9]*)(?:\/.*)?$/.exec(text)
  if (text.startsWith('/ipfs/')) return match?.[1] ?? text.slice('/ipfs/'.length).split('/')[0] ?? ''
  return match?.[1]
}

/**
 * Checks a literal data reference (a step input, a file or cid default): a CID, an
 * `/ipfs/<cid>/path`, or else a path relative to `baseDir` that must exist (as `kind` says).
 */
export function checkDataRef (findings: Findings, at: JsonPath, value: string, baseDir: string, missing: Severity, kind: ValidatorFiles['kind'], cidOnly = false): void {
  if (value.includes('{{')) return
  const cid = cidPart(value)
  if (cid !== undefined || cidOnly) {
    if (!isCid(cid ?? value)) findings.error(at, 'value', 'cid/invalid', `'${value}' is not a valid CID (expected e.g. Qm… or bafy…, optionally /ipfs/<cid>/path)`)
    return
  }
  const resolved = path.resolve(baseDir, value)
  if (kind(resolved) === undefined) {
    findings.add(at, 'value', missing, 'input/not-found', `'${value}' does not exist (looked for ${path.relative(process.cwd(), resolved) || '.'}); ` +
      `give a path relative to ${path.relative(process.cwd(), baseDir) || '.'} or a CID`)
  }
}
