import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { UnixFS } from 'ipfs-unixfs'
import { importCar } from '../../src/storage/car.js'
import { writeCarOut } from '../../src/storage/car-out.js'
import { createFsStore } from '../../src/storage/index.js'
import { Builder, carOf, HOSTILE_CASES } from './hostile-dags.js'

const work = mkdtempSync(path.join(tmpdir(), 'bac-car-'))
after(() => rmSync(work, { recursive: true, force: true }))
let n = 0
/** A fresh empty folder, and a target inside it. */
function place (): { dir: string, target: string } {
  const dir = path.join(work, `case-${n++}`)
  mkdirSync(dir)
  return { dir, target: path.join(dir, 'out') }
}

async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of source) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** Checks the refusal, and that nothing was left: no target, no scratch blocks, no staging. */
async function refused (writing: Promise<void>, dir: string, message: RegExp, name = 'UnsafeContentError'): Promise<void> {
  await assert.rejects(writing, (err: Error) => {
    assert.equal(err.name, name, err.message)
    assert.match(err.message, message)
    assert.doesNotMatch(err.message, /[\n\0]/)
    return true
  })
  assert.deepEqual(readdirSync(dir), [])
}

describe('writing content out of a CAR stream (bac job get)', () => {
  for (const c of HOSTILE_CASES) {
    it(`refuses ${c.name}, writing nothing`, async () => {
      const dag = c.build()
      const { dir, target } = place()
      await refused(writeCarOut([await carOf(dag)], dag.root.toString(), target, c.options), dir, c.message, c.error)
      assert.equal(existsSync(path.join(work, 'escaped')), false)
    })
  }

  it('refuses folders so wide nested so deep that following them would hold more than 64 MiB', async () => {
    // 60 levels, each a folder of 6,000 names (one of them the next level): 14 MB of blocks, 360,000 entries
    const b = new Builder()
    const leaf = b.file('x')
    const names = Array.from({ length: 5999 }, (_, i): [string, typeof leaf] => [`f-${String(i).padStart(4, '0')}`, leaf])
    let cid = leaf
    for (let level = 0; level < 60; level++) cid = b.folder([['d', cid], ...names])
    const dag = b.dag(cid)
    const { dir, target } = place()
    await refused(writeCarOut([await carOf(dag)], dag.root.toString(), target), dir, /^\S+(\/d){30,}: nests nodes so wide so deep that following it would hold more than 64 MiB/)
  })

  it('refuses a CAR rooted at another CID than the one asked for, or at several', async () => {
    const b = new Builder()
    const asked = b.folder({ 'a.txt': b.file('a') })
    const other = b.dag(b.folder({ 'b.txt': b.file('b') }))
    let { dir, target } = place()
    await refused(writeCarOut([await carOf(other)], asked.toString(), target), dir, /^the CAR stream: is rooted at \S+, not at \S+, the CID asked for/)
    ;({ dir, target } = place())
    const both = b.dag(asked)
    await refused(writeCarOut([await carOf(both, [asked, other.root])], asked.toString(), target), dir, /is rooted at \S+, \S+, not at/)
  })

  it('refuses a CAR that lacks blocks of the DAG, or ends inside a block, or carries trailing garbage', async () => {
    const b = new Builder()
    const leaf = b.file('leaf')
    const dag = b.dag(b.folder({ sub: b.folder({ 'leaf.txt': leaf }) }))
    let { dir, target } = place()
    const withoutLeaf = await carOf(dag, [dag.root], (cid) => cid.equals(leaf))
    await refused(writeCarOut([withoutLeaf], dag.root.toString(), target), dir, /^the CAR stream: does not hold all of \S+ \(content \S+\/sub\/leaf\.txt not found/)
    const car = await carOf(dag)
    ;({ dir, target } = place())
    await refused(writeCarOut([car.subarray(0, car.length - 3)], dag.root.toString(), target), dir, /^the CAR stream: is not a whole CAR v1 stream/)
    ;({ dir, target } = place())
    await refused(writeCarOut([car, Buffer.from('trailing garbage, not a block')], dag.root.toString(), target), dir, /^the CAR stream: is not a whole CAR v1 stream/)
  })

  it('refuses a block claiming a huge length at once, without reading on or buffering', async () => {
    const b = new Builder()
    const dag = b.dag(b.file('x'))
    const header = await carOf(dag, [dag.root], () => true)
    let sent = 0
    async function * hostile (): AsyncGenerator<Uint8Array> {
      yield header
      // a section of 2^54 bytes: its length, a CID, then zeros for as long as someone reads (bounded here: 1 GiB)
      yield Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20])
      yield dag.root.bytes
      for (let i = 0; i < 16384; i++) { sent += 65536; yield new Uint8Array(65536) }
    }
    const { dir, target } = place()
    await refused(writeCarOut(hostile(), dag.root.toString(), target), dir, /^the CAR stream: holds a section of \d+ bytes; bac reads blocks of at most 4194304 bytes/)
    assert.ok(sent <= 65536, `read ${sent} bytes past the length`)
    const blockstore = { async * putMany (source: AsyncIterable<{ cid: unknown }>) { for await (const block of source) yield block.cid } }
    sent = 0
    await assert.rejects(importCar(hostile(), blockstore as never, 'the CAR'), /holds a section of/)
    assert.ok(sent <= 65536, `read ${sent} bytes past the length`)
  })

  it('writes a sub-path out of the CAR the store exports for it, checked from the root CID down', async () => {
    const store = createFsStore({ dataDir: path.join(work, 'store') })
    await store.start()
    try {
      const src = path.join(work, 'src')
      mkdirSync(path.join(src, 'sub', 'deeper'), { recursive: true })
      writeFileSync(path.join(src, 'big.bin'), Buffer.alloc(700_000, 1))
      writeFileSync(path.join(src, 'sub', 'deeper', 'b.txt'), 'beta\n')
      const cid = await store.addPath(src)
      const car = await collect(store.exportCar(`${cid}/sub`))
      assert.ok(car.length < 2000, 'only the path and the sub-folder, not big.bin')
      const { target } = place()
      await writeCarOut([car], `${cid}/sub`, target)
      assert.equal(readFileSync(path.join(target, 'deeper', 'b.txt'), 'utf8'), 'beta\n')
      // a CAR of the sub-folder alone cannot show that it lies under cid: refused
      const alone = await collect(store.exportCar((await store.stat(`${cid}/sub`)).cid))
      const again = place()
      await refused(writeCarOut([alone], `${cid}/sub`, again.target), again.dir, /is rooted at \S+, not at/)
    } finally {
      await store.stop()
    }
  })

  it('writes a file that is one raw block, and keeps no block once done', async () => {
    const b = new Builder()
    const dag = b.dag(b.folder({ 'data.bin': b.raw(Buffer.from('raw')), 'doc.txt': b.node(new UnixFS({ type: 'file', data: Buffer.from('doc') })) }))
    const { dir, target } = place()
    await writeCarOut([await carOf(dag)], dag.root.toString(), target)
    assert.deepEqual(readdirSync(dir), ['out'])
    assert.equal(readFileSync(path.join(target, 'data.bin'), 'utf8'), 'raw')
  })
})

describe('exporting a CAR', () => {
  const store = createFsStore({ dataDir: path.join(work, 'export') })
  before(async () => { await store.start() })
  after(async () => { await store.stop() })

  it('sends each block once, even of a DAG that links one folder a million times over', async () => {
    const b = new Builder()
    let cid = b.file('boom')
    for (let i = 0; i < 20; i++) cid = b.folder({ a: cid, b: cid })
    const dag = b.dag(cid)
    await store.importCar([await carOf(dag)])
    const car = await collect(store.exportCar(dag.root.toString()))
    const blocks: string[] = []
    const stored = { async * putMany (source: AsyncIterable<{ cid: { toString: () => string } }>) { for await (const block of source) { blocks.push(block.cid.toString()); yield block.cid } } }
    await importCar((async function * () { yield car })(), stored as never, 'the CAR')
    assert.equal(blocks.length, 21)
    assert.equal(new Set(blocks).size, 21)
  })
})
