// Preloaded with --import: records every module the program loads into $BAC_TRACE_FILE, both
// ESM imports (through a resolve hook) and CommonJS requires (lazy loads use createRequire).
import { appendFileSync } from 'node:fs'
import Module, { register } from 'node:module'

register('./trace-hooks.mjs', import.meta.url)

const originalLoad = Module._load
Module._load = function load (request, parent, isMain) {
  try {
    appendFileSync(process.env.BAC_TRACE_FILE, `${Module._resolveFilename(request, parent, isMain)}\n`)
  } catch {}
  return originalLoad.call(this, request, parent, isMain)
}
