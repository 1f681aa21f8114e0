#!/usr/bin/env node
// Build step (after tsc): bundles the CLI and the packages it always needs into one file,
// dist/bin/bac.mjs, the `bac` binary. Loading one file instead of ~400 starts `bac` about 40 ms
// sooner. What the library imports dynamically (the node's parts) goes to dist/bin/chunks/ and
// loads only when a command opens a node. Packages a command loads lazily (through createRequire, see src/pipeline/lazy.ts) stay
// outside the bundle and load only when used. dist/bin/meta.json lists what was bundled; a test
// checks it holds only the packages `bac validate` may load.
import { build } from 'esbuild'
import { rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
// chunks of earlier builds would pile up: each build writes its own
rmSync(path.join(root, 'dist', 'bin', 'chunks'), { recursive: true, force: true })
await build({
  entryPoints: { bac: path.join(root, 'dist', 'cli', 'bin.js') },
  outdir: path.join(root, 'dist', 'bin'),
  outExtension: { '.js': '.mjs' },
  // what is imported dynamically (the node: stores, executors, engine) goes to chunks loaded on use
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // a native addon cannot be bundled; it loads from node_modules
  external: ['better-sqlite3'],
  // bundled CommonJS packages call require(); give the ESM bundle one
  banner: { js: "import { createRequire as __bacCreateRequire } from 'node:module'; const require = __bacCreateRequire(import.meta.url);" },
  metafile: true,
  write: true,
  logLevel: 'warning'
}).then(async (result) => {
  const { writeFile } = await import('node:fs/promises')
  await writeFile(path.join(root, 'dist', 'bin', 'meta.json'), JSON.stringify(result.metafile))
})
