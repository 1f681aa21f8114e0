#!/usr/bin/env node
// Build step: the dashboard (dashboard/src, Preact and dagre) bundled and minified by esbuild into
// dist/dashboard: index.html, assets/app.js, assets/app.css. Nothing is fetched at run time; a
// node serves these files at / (see src/api/server.ts). dist/dashboard/meta.json lists what was bundled.
import { build } from 'esbuild'
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const out = path.join(root, 'dist', 'dashboard')
rmSync(out, { recursive: true, force: true })
mkdirSync(path.join(out, 'assets'), { recursive: true })
const result = await build({
  entryPoints: [path.join(root, 'dashboard', 'src', 'main.tsx')],
  outfile: path.join(out, 'assets', 'app.js'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning'
})
writeFileSync(path.join(out, 'meta.json'), JSON.stringify(result.metafile))
copyFileSync(path.join(root, 'dashboard', 'index.html'), path.join(out, 'index.html'))
copyFileSync(path.join(root, 'dashboard', 'app.css'), path.join(out, 'assets', 'app.css'))
