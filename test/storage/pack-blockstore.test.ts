import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { importBytes } from '../../src/storage/file-importer.js'
import { PackBlockstore } from '../../src/storage/pack-blockstore.js'

const work = mkdtempSync(path.join(tmpdir(), 'bac-packs-'))
after(() => rmSync(work, { recursive: true, force: true }))

async function block (bytes: Uint8Array): Promise<{ cid: CID, bytes: Uint8Array }> {
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

async function read (store: PackBlockstore, cid: CID): Promise<Buffer> {
  const pieces: Uint8Array[] = []
  for await (const piece of store.get(cid)) pieces.push(piece)
  return Buffer.concat(pieces)
}

describe('pack blockstore', () => {
  it('writes each block once, side by side, and reads every one back after a reopen', async () => {
    const dir = path.join(work, 'basic')
    const store = new PackBlockstore(dir)
    await store.open()
    const blocks = await Promise.all(Array.from({ length: 50 }, async (_, i) => await block(randomBytes(i * 1000 + 1))))
    await Promise.all([...blocks, ...blocks].map(async (b) => await store.put(b.cid, b.bytes)))
    await store.close()
    const packs = readdirSync(path.join(dir, 'packs'))
    assert.equal(packs.length, 1)
    const reopened = new PackBlockstore(dir)
    await reopened.open()
    for (const b of blocks) assert.deepEqual(await read(reopened, b.cid), Buffer.from(b.bytes))
    const all: string[] = []
    for await (const pair of reopened.getAll()) all.push(pair.cid.toString())
    assert.deepEqual(all.sort(), blocks.map((b) => b.cid.toString()).sort())
    await reopened.delete(blocks[0]!.cid)
    assert.equal(await reopened.has(blocks[0]!.cid), false)
    await assert.rejects(read(reopened, blocks[0]!.cid), (err: Error) => err.name === 'NotFoundError')
    await reopened.close()
  })

  it('stores blocks given together in runs (one write each), once each, alongside single puts of the same blocks', async () => {
    const dir = path.join(work, 'many')
    const store = new PackBlockstore(dir)
    await store.open()
    // 40 blocks of 300 KB: two runs of 8 MiB and a rest; some given twice, some put singly at once
    const blocks = await Promise.all(Array.from({ length: 40 }, async () => await block(randomBytes(300_000))))
    const given = [...blocks, ...blocks.slice(0, 5)]
    const stored: string[] = []
    await Promise.all([
      (async () => { for await (const cid of store.putMany(given)) stored.push(cid.toString()) })(),
      ...blocks.slice(10, 15).map(async (b) => await store.put(b.cid, b.bytes))
    ])
    assert.deepEqual(stored, given.map((b) => b.cid.toString()))
    await store.close()
    const packs = readdirSync(path.join(dir, 'packs'))
    assert.equal(packs.length, 1)
    // each block once: the pack holds exactly the distinct bytes
    assert.equal(statSync(path.join(dir, 'packs', packs[0] as string)).size, 40 * 300_000)
    const reopened = new PackBlockstore(dir)
    await reopened.open()
    for (const b of blocks) assert.deepEqual(await read(reopened, b.cid), Buffer.from(b.bytes))
    await reopened.close()
  })

  it('lets two stores (two processes) share a folder: each appends to its own pack, both read all', async () => {
    const dir = path.join(work, 'shared')
    const a = new PackBlockstore(dir)
    const b = new PackBlockstore(dir)
    await a.open()
    await b.open()
    const one = await importBytes([randomBytes(700_000)], async (cid, bytes) => await a.put(cid, bytes))
    const two = await importBytes([randomBytes(700_000)], async (cid, bytes) => await b.put(cid, bytes))
    assert.equal(await b.has(one.cid), true)
    assert.equal(await a.has(two.cid), true)
    assert.ok((await read(b, one.cid)).length > 0)
    assert.equal(readdirSync(path.join(dir, 'packs')).length, 2)
    await a.close()
    await b.close()
  })

  it('reads a block damaged on disk as missing, never as other content', async () => {
    const dir = path.join(work, 'damaged')
    const store = new PackBlockstore(dir)
    await store.open()
    const b = await block(randomBytes(100_000))
    await store.put(b.cid, b.bytes)
    await store.close()
    const pack = path.join(dir, 'packs', readdirSync(path.join(dir, 'packs'))[0]!)
    const fd = openSync(pack, 'r+')
    writeSync(fd, Buffer.from('garbage'), 0, 7, 5000)
    closeSync(fd)
    const reopened = new PackBlockstore(dir)
    await reopened.open()
    await assert.rejects(read(reopened, b.cid), (err: Error) => err.name === 'NotFoundError' && /damaged/.test(err.message))
    await reopened.close()
  })

  it('says clearly when its folder cannot be used', async () => {
    const file = path.join(work, 'a-file')
    writeFileSync(file, 'not a folder')
    const store = new PackBlockstore(path.join(file, 'blocks'))
    await assert.rejects(store.open(), (err: Error) => err.name === 'BlockStoreError' && /cannot open the block store/.test(err.message))
  })
})
