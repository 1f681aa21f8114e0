import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The project's root folder. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const FIXTURES = path.join(ROOT, 'test', 'fixtures')
/** The built CLI (the bundle the `bac` bin points to); `npm test` builds it first. */
export const BAC_BIN = path.join(ROOT, 'dist', 'bin', 'bac.mjs')
/** The VM images the tests boot, built by test/setup.mjs from images/. */
export const IMAGES = path.join(ROOT, '.cache', 'images')
