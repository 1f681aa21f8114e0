import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { createFsStore } from '../../src/storage/index.js'
import { PackBlockstore } from '../../src/storage/pack-blockstore.js'
import { contentStoreCompliance } from './compliance.js'
import { hostileDagCompliance } from './hostile-dags.js'

contentStoreCompliance('embedded (filesystem blockstore)', (dataDir) => createFsStore({ dataDir }))
hostileDagCompliance('embedded (filesystem blockstore)', (dataDir) => createFsStore({ dataDir }), { identity: true })

const work = mkdtempSync(path.join(tmpdir(), 'bac-fs-store-'))
after(() => rmSync(work, { recursive: true, force: true }))

/** What Kubo's `ipfs add` gives for a file, as computed by Debian's ipfs_cid tool. */
function kuboCid (file: string): string {
  const out = execFileSync('ipfs_cid', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  return (JSON.parse(out) as { CIDv0: string }).CIDv0
}

describe('embedded store: CIDs equal Kubo defaults', () => {
  const store = createFsStore({ dataDir: path.join(work, 'kubo') })

  // empty, one chunk, exactly one chunk, one byte over, several chunks, and 174 chunks + 1 (a second DAG level)
  for (const size of [0, 6, 262_144, 262_145, 1_000_000, 174 * 262_144 + 1]) {
    it(`a ${size}-byte file gets the CID ipfs add gives`, async () => {
      await store.start()
      const file = path.join(work, `kubo-${size}.bin`)
      writeFileSync(file, randomBytes(size))
      assert.equal(await store.addPath(file), kuboCid(file))
      await store.stop()
    })
  }

  it('an empty folder gets the CID ipfs add -r gives', async () => {
    await store.start()
    const dir = path.join(work, 'empty-dir')
    mkdirSync(dir)
    assert.equal(await store.addPath(dir), 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn')
    await store.stop()
  })
})

describe('embedded store: persistence and untrusted DAGs', () => {
  it('keeps content across a restart', async () => {
    const dataDir = path.join(work, 'persist')
    const first = createFsStore({ dataDir })
    await first.start()
    const cid = await first.addBytes(Buffer.from('kept'))
    await first.stop()
    const second = createFsStore({ dataDir })
    await second.start()
    assert.equal(await second.has(cid), true)
    await second.stop()
  })

  for (const evil of ['..', '../escaped', 'a/../../escaped', '/etc/escaped', '']) {
    it(`refuses to write a folder whose entry is named ${JSON.stringify(evil)}, writing nothing`, async () => {
      const dataDir = path.join(work, `evil-${readdirSync(work).length}`)
      const blockstore = new PackBlockstore(path.join(dataDir, 'blocks'))
      await blockstore.open()
      const fileBytes = dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'file', data: Buffer.from('pwned') }).marshal() }))
      const fileCid = CID.createV0(await sha256.digest(fileBytes))
      await blockstore.put(fileCid, fileBytes)
      const dirBytes = dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: [{ Name: evil, Hash: fileCid, Tsize: fileBytes.length }] }))
      const dirCid = CID.createV0(await sha256.digest(dirBytes))
      await blockstore.put(dirCid, dirBytes)
      await blockstore.close()
      const store = createFsStore({ dataDir })
      await store.start()
      const target = path.join(dataDir, 'out', 'target')
      await assert.rejects(store.get(dirCid.toString(), target), (err: Error) => err.name === 'UnsafeContentError')
      await store.stop()
      assert.equal(existsSync(target), false)
      assert.ok(!existsSync(path.join(dataDir, 'out')) || readdirSync(path.join(dataDir, 'out')).length === 0)
      assert.equal(existsSync(path.join(dataDir, 'escaped')), false)
      assert.equal(existsSync('/etc/escaped'), false)
    })
  }
})
