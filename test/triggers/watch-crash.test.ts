import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { openRunStore } from '../../src/storage/index.js'
import { BAC_BIN } from '../helpers/paths.js'
import { until } from './helpers.js'

const work = mkdtempSync(path.join(tmpdir(), 'bac-watch-crash-'))
after(() => rmSync(work, { recursive: true, force: true }))

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

function startWatcher (): ChildProcess {
  return spawn(process.execPath, [BAC_BIN, 'watch', 'pipelines/burst.yml', '--json', '--data-dir', path.join(work, 'data'), '--concurrency', '4'], {
    cwd: work, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe']
  })
}

async function kill9 (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

describe('bac watch, killed with kill -9 during a burst', () => {
  it('runs each of 500 files exactly once across 3 kills and restarts (counted in the run store)', async () => {
    mkdirSync(path.join(work, 'pipelines'))
    writeFileSync(path.join(work, 'pipelines', 'burst.yml'), `name: burst
on:
  watch: { path: ../drop, glob: "*.txt", input: file, after: move }
inputs:
  file: { type: file }
steps:
  copy:
    run: cat {{ inputs.file.path }} > {{ outputs.path }}/out.txt
`)
    const count = 500
    const staging = path.join(work, 'staging')
    mkdirSync(staging)
    mkdirSync(path.join(work, 'drop'))
    for (let i = 0; i < count; i++) writeFileSync(path.join(staging, `f${i}.txt`), `file ${i}\n`)
    await sleep(20)
    let watcher = startWatcher()
    // the burst arrives while the watcher starts; it is killed at random moments of it, 3 times
    const burst = (async () => {
      for (let i = 0; i < count; i++) {
        renameSync(path.join(staging, `f${i}.txt`), path.join(work, 'drop', `f${i}.txt`))
        if (i % 50 === 0) await sleep(5)
      }
    })()
    for (let kill = 0; kill < 3; kill++) {
      await sleep(300 + Math.floor(Math.random() * 1200))
      await kill9(watcher)
      if (process.env.DEBUG_CRASH !== undefined) console.error('killed with', readdirSync(path.join(work, 'drop')).length, 'files in the drop folder')
      watcher = startWatcher()
    }
    await burst
    const processed = path.join(work, 'processed')
    try {
      await until(() => readdirSync(path.join(work, 'drop')).length === 0 && readdirSync(processed).length === count, 'every file processed and moved', 240_000)
    } finally {
      const stopped = new Promise((resolve) => watcher.once('exit', resolve))
      watcher.kill('SIGINT')
      await stopped
    }
    const runs = openRunStore({ file: path.join(work, 'data', 'runs.db') })
    try {
      const all = runs.listRuns({ limit: 10_000 })
      const perFile = new Map<string, number>()
      for (const run of all) {
        const name = (run.trigger.file as { name: string }).name
        perFile.set(name, (perFile.get(name) ?? 0) + 1)
      }
      assert.equal(perFile.size, count, 'every file ran')
      assert.deepEqual([...perFile.entries()].filter(([, n]) => n !== 1), [], 'no file ran twice')
      assert.deepEqual(all.filter((r) => r.status !== 'succeeded').map((r) => `${r.id} ${r.status} ${r.reason ?? ''}`), [])
      assert.deepEqual(readdirSync(processed).sort(), Array.from({ length: count }, (_, i) => `f${i}.txt`).sort())
    } finally {
      runs.close()
    }
  })
})
