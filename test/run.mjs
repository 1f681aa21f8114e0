#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's built-in test runner (through tsx). Node 20's
// `--test` does not expand globs, so the files are listed here. Extra arguments are passed on
// (e.g. `node test/run.mjs --test-name-pattern=corpus`).
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.dirname(fileURLToPath(import.meta.url))

function find (dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : find(full)
    return entry.name.endsWith('.test.ts') ? [full] : []
  }).sort()
}

const args = process.argv.slice(2)
const filters = args.filter((a) => !a.startsWith('--'))
const files = find(root).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
const child = spawn(process.execPath, [
  '--import', 'tsx',
  '--test',
  '--test-reporter=spec',
  `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
  ...args.filter((a) => a.startsWith('--')),
  ...files
], { stdio: 'inherit', cwd: path.dirname(root) })
child.on('exit', (code, signal) => { process.exitCode = code ?? (signal === null ? 1 : 128) })
