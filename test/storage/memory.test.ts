// Bounded memory, measured as the user runs bac: a fresh `bac` process per command, its peak RSS
// reported by the process itself as it exits (test/helpers/peak-rss.mjs). Each moves far more
// content than the limit: `bac run` of a step writing 1 GiB (its outputs added, the result copied
// to outputs/<run-id>/), `bac ipfs add` and `bac ipfs get` of that GiB, and `bac ipfs get` of a DAG
// of 100,000 entries. Before bac streamed these, they peaked at 1.1 to 2.2 GB.
import assert from 'node:assert/strict'
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { createFsStore } from '../../src/storage/index.js'
import { BAC_BIN } from '../helpers/paths.js'
// @ts-expect-error: a plain ES module shared with bench/memory.bench.mjs
import { nodePeak } from '../helpers/peak-rss.mjs'

const GIB = 1024 ** 3
const LIMIT = 200 * 1024 * 1024

const work = mkdtempSync(path.join(tmpdir(), 'bac-memory-'))
after(() => rmSync(work, { recursive: true, force: true }))
// without $BAC_NODE: a tester's own node must not catch the CLI's calls
const { BAC_NODE: _, ...inherited } = process.env
const env = { ...inherited, BAC_HOME: path.join(work, 'home'), NO_COLOR: '1' }

interface Peak { peak: number, ms: number, code: number, stdout: string, stderr: string }

/** Runs `bac args…` in a fresh process; checks it succeeded and stayed under the limit. */
async function bac (args: string[], t: { diagnostic: (message: string) => void }, home = env.BAC_HOME): Promise<Peak> {
  const result = await nodePeak([BAC_BIN, ...args], { cwd: work, env: { ...env, BAC_HOME: home } }) as Peak
  assert.equal(result.code, 0, result.stderr)
  t.diagnostic(`bac ${args[0] ?? ''} ${args[1] ?? ''}: peak RSS ${Math.round(result.peak / 2 ** 20)} MiB in ${(result.ms / 1000).toFixed(1)} s`)
  assert.ok(result.peak < LIMIT, `bac ${args.join(' ')} peaked at ${Math.round(result.peak / 2 ** 20)} MiB, over ${LIMIT / 2 ** 20} MiB`)
  return result
}

/** The same bytes at a few places (start, end, and between): the files are too large to compare whole here. */
function sameSamples (a: string, b: string): void {
  assert.equal(statSync(a).size, statSync(b).size)
  const size = statSync(a).size
  const [fa, fb] = [openSync(a, 'r'), openSync(b, 'r')]
  try {
    for (const at of [0, 262_143, size / 3, size / 2 + 17, size - 65_536]) {
      const [x, y] = [Buffer.alloc(65_536), Buffer.alloc(65_536)]
      readSync(fa, x, 0, x.length, Math.floor(at))
      readSync(fb, y, 0, y.length, Math.floor(at))
      assert.ok(x.equals(y), `bytes differ near ${at}`)
    }
  } finally {
    closeSync(fa)
    closeSync(fb)
  }
}

describe('bac stays under 200 MiB whatever it moves', () => {
  let output = ''

  it('bac run of a step writing 1 GiB', async (t) => {
    mkdirSync(path.join(work, 'pipelines'))
    writeFileSync(path.join(work, 'pipelines', 'big.yml'), `name: big\non: { manual: {} }\nsteps:\n  big:\n    run: head -c ${GIB} /dev/urandom > {{ outputs.path }}/big\n`)
    await bac(['run', 'pipelines/big.yml', '--outputs', path.join(work, 'outputs')], t)
    const [runId] = readdirSync(path.join(work, 'outputs'))
    output = path.join(work, 'outputs', runId as string, 'big', 'merged', 'big')
    assert.equal(statSync(output).size, GIB)
  })

  it('bac ipfs add and bac ipfs get of 1 GiB', async (t) => {
    assert.ok(output !== '', 'needs the run\'s output')
    const home = path.join(work, 'home-2')
    const cid = (await bac(['ipfs', 'add', output], t, home)).stdout.trim()
    const got = path.join(work, 'got.bin')
    await bac(['ipfs', 'get', cid, got], t, home)
    sameSamples(output, got)
    rmSync(got)
    rmSync(home, { recursive: true })
  })

  it('bac ipfs get of a DAG of 100,000 entries', async (t) => {
    // 100 folders linking one folder of 1,000 files: a few hundred KiB of blocks
    const home = path.join(work, 'home-3')
    const store = createFsStore({ dataDir: home })
    await store.start()
    const files: Record<string, string> = {}
    for (let i = 0; i < 1000; i++) files[`file-${i}.txt`] = await store.addBytes(Buffer.from(`file ${i}\n`))
    const folder = await store.compose(files)
    const folders: Record<string, string> = {}
    for (let i = 0; i < 100; i++) folders[`folder-${i}`] = folder
    const wide = await store.compose(folders)
    await store.stop()
    const tree = path.join(work, 'tree')
    await bac(['ipfs', 'get', wide, tree], t, home)
    assert.equal(readdirSync(tree).length, 100)
    assert.equal(readdirSync(path.join(tree, 'folder-99')).length, 1000)
    rmSync(tree, { recursive: true })
  })
})
