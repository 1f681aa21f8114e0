import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { importer } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import { CHUNK_SIZE, MAX_LINKS, importBytes, importFile, importHandle } from '../../src/storage/file-importer.js'
import { importFolder, ShardedFolder } from '../../src/storage/folder-importer.js'
import { kuboImportOptions } from '../../src/storage/kubo-import.js'

const work = mkdtempSync(path.join(tmpdir(), 'bac-importer-'))
after(() => rmSync(work, { recursive: true, force: true }))

/** The reference: ipfs-unixfs-importer with Kubo's defaults, on its own memory blockstore. */
async function reference (source: Array<{ path: string, content?: Uint8Array }>): Promise<{ cid: string, blocks: MemoryBlockstore }> {
  const blocks = new MemoryBlockstore()
  let last: string | undefined
  for await (const entry of importer(source, blocks, kuboImportOptions())) last = entry.cid.toString()
  if (last === undefined) throw new Error('no root')
  return { cid: last, blocks }
}

async function allBlocks (store: MemoryBlockstore): Promise<string[]> {
  const out: string[] = []
  for await (const { cid } of store.getAll()) out.push(cid.toString())
  return out.sort()
}

function memoryPut (store: MemoryBlockstore) {
  return async (cid: CID, bytes: Uint8Array) => await store.put(cid, bytes)
}

describe('file importer: the same DAG as ipfs-unixfs-importer with Kubo defaults', () => {
  // empty, tiny, around one chunk, one full parent, one parent plus a lone leaf (a second level
  // whose last parent has one link), and a ragged tail
  const sizes = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, MAX_LINKS * CHUNK_SIZE, (MAX_LINKS + 1) * CHUNK_SIZE, (MAX_LINKS + 1) * CHUNK_SIZE + 7]
  for (const size of sizes) {
    it(`${size} bytes, from a file and from a stream of odd pieces: same root and same blocks`, async () => {
      const content = randomBytes(size)
      const expected = await reference([{ path: 'f', content }])
      const file = path.join(work, `f-${size}`)
      writeFileSync(file, content)
      const fromFile = new MemoryBlockstore()
      const imported = await importFile(file, memoryPut(fromFile))
      assert.equal(imported.cid.toString(), expected.cid)
      assert.equal(imported.fileSize, size)
      assert.deepEqual(await allBlocks(fromFile), await allBlocks(expected.blocks))
      const fromStream = new MemoryBlockstore()
      const pieces = function * () { for (let o = 0, step = 1; o < size; o += step, step = (step * 7 + 13) % 100_003 + 1) yield content.subarray(o, o + step) }
      assert.equal((await importBytes(pieces(), memoryPut(fromStream))).cid.toString(), expected.cid)
    })
  }

  it('a file longer than the size it had when opened (it grew meanwhile) is read whole all the same', async () => {
    const content = randomBytes(CHUNK_SIZE + 5000)
    const file = path.join(work, 'grew')
    writeFileSync(file, content)
    const expected = await reference([{ path: 'f', content }])
    for (const hint of [0, 10, CHUNK_SIZE - 1, CHUNK_SIZE + 100]) {
      const handle = await open(file, 'r')
      try {
        const imported = await importHandle(handle, memoryPut(new MemoryBlockstore()), undefined, hint)
        assert.equal(imported.cid.toString(), expected.cid, `with a size hint of ${hint}`)
      } finally {
        await handle.close()
      }
    }
  })

  it('a folder tree: files, nested and empty folders, hidden and unicode names', async () => {
    const dir = path.join(work, 'tree')
    const files: Record<string, Uint8Array> = {
      'a.txt': Buffer.from('a\n'),
      '.hidden': Buffer.from('h'),
      'ünï cødé & spaces.csv': randomBytes(300_000),
      'sub/deeper/x.bin': randomBytes(5000),
      'sub/y.bin': Buffer.alloc(0)
    }
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
      writeFileSync(path.join(dir, name), content)
    }
    mkdirSync(path.join(dir, 'empty', 'nested-empty'), { recursive: true })
    const source = [
      ...Object.entries(files).map(([name, content]) => ({ path: `root/${name}`, content })),
      { path: 'root/empty/nested-empty' }
    ]
    const expected = await reference(source)
    const blocks = new MemoryBlockstore()
    const imported = await importFolder(dir, memoryPut(blocks), blocks)
    assert.equal(imported.cid.toString(), expected.cid)
    assert.deepEqual(await allBlocks(blocks), await allBlocks(expected.blocks))
  })

  it('leaves a folder that Kubo would shard to the general importer, storing none of its files', async () => {
    const dir = path.join(work, 'wide')
    mkdirSync(dir)
    for (let i = 0; i < 2200; i++) writeFileSync(path.join(dir, `${'n'.repeat(90)}-${i}`), '')
    const blocks = new MemoryBlockstore()
    await assert.rejects(importFolder(dir, memoryPut(blocks), blocks), ShardedFolder)
    assert.deepEqual(await allBlocks(blocks), [])
  })

  it('stops when aborted', async () => {
    const file = path.join(work, 'abort.bin')
    writeFileSync(file, randomBytes(4 * CHUNK_SIZE))
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    await assert.rejects(importFile(file, memoryPut(new MemoryBlockstore()), controller.signal), /stop/)
  })
})
