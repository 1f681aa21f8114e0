// Hostile DAGs, built block by block with @ipld/dag-pb and ipfs-unixfs, as a peer or a server
// could send them; and the suite every content store must pass with them: each is refused with
// a one-line UnsafeContentError naming the entry and what is wrong, and nothing is written (no
// target, no staging folder, nothing outside).
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { CarWriter } from '@ipld/car'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import type { MultihashDigest } from 'multiformats/hashes/interface'
import type { ContentStore, GetOptions } from '../../src/interfaces/content-store.js'
import { storeUnderTest } from './compliance.js'

export interface Block { cid: CID, bytes: Uint8Array }

/** A DAG: its root and every block. */
export class Dag {
  readonly blocks = new Map<string, Block>()
  constructor (readonly root: CID) {}
}

const digest = (bytes: Uint8Array): MultihashDigest<typeof sha256.code> => createDigest(sha256.code, createHash('sha256').update(bytes).digest())

/** Builds blocks; `dag(root)` gathers those put so far. */
export class Builder {
  private readonly blocks = new Map<string, Block>()

  put (cid: CID, bytes: Uint8Array): CID {
    this.blocks.set(cid.toString(), { cid, bytes })
    return cid
  }

  node (data: UnixFS, links: Array<{ name?: string, cid: CID, tsize?: number }> = []): CID {
    const sorted = [...links].sort((a, b) => Buffer.compare(Buffer.from(a.name ?? ''), Buffer.from(b.name ?? '')))
    const bytes = dagPb.encode({ Data: data.marshal(), Links: sorted.map((l) => ({ ...(l.name !== undefined ? { Name: l.name } : {}), Hash: l.cid, Tsize: l.tsize ?? 1 })) })
    return this.put(CID.createV0(digest(bytes)), bytes)
  }

  file (text: string | Uint8Array): CID {
    return this.node(new UnixFS({ type: 'file', data: typeof text === 'string' ? Buffer.from(text) : text }))
  }

  folder (entries: Record<string, CID> | Array<[string, CID]>): CID {
    const list = Array.isArray(entries) ? entries : Object.entries(entries)
    return this.node(new UnixFS({ type: 'directory' }), list.map(([name, cid]) => ({ name, cid })))
  }

  /** A HAMT shard: `links` are labels (2 hex digits, then a name for an entry) and CIDs. */
  shard (links: Array<[string, CID]>): CID {
    return this.node(new UnixFS({ type: 'hamt-sharded-directory', fanout: 256n, hashType: 0x22n }), links.map(([name, cid]) => ({ name, cid })))
  }

  raw (bytes: Uint8Array, code = 0x55): CID {
    return this.put(CID.createV1(code, digest(bytes)), bytes)
  }

  dag (root: CID): Dag {
    const dag = new Dag(root)
    for (const [key, block] of this.blocks) dag.blocks.set(key, block)
    return dag
  }
}

/** A DAG as a CAR v1 stream rooted at `root` (or at `roots`). */
export async function carOf (dag: Dag, roots: CID[] = [dag.root], leave: (cid: CID) => boolean = () => false): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create(roots)
  const chunks: Uint8Array[] = []
  const reading = (async () => { for await (const chunk of out) chunks.push(chunk) })()
  for (const block of dag.blocks.values()) if (!leave(block.cid)) await writer.put(block)
  await writer.close()
  await reading
  return Buffer.concat(chunks)
}

export interface HostileCase {
  name: string
  build: () => Dag
  /** What the refusal's message must say (besides the entry path). */
  message: RegExp
  /** The error's name. @default UnsafeContentError */
  error?: string
  options?: GetOptions
}

/** `n` folders nested one in another, around `inner`. */
function nested (b: Builder, n: number, inner: CID): CID {
  let cid = inner
  for (let i = 0; i < n; i++) cid = b.folder({ d: cid })
  return cid
}

export const HOSTILE_CASES: HostileCase[] = [
  ...['..', '.', '', '../escaped', '/etc/escaped', 'a/b', 'a\\b', 'nul\0name', 'x'.repeat(256)].map((name) => ({
    name: `an entry named ${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}…` : name)}`,
    build: () => {
      const b = new Builder()
      return b.dag(b.folder({ sub: b.folder([['fine.txt', b.file('fine')], [name, b.file('pwned')]]) }))
    },
    message: /\/sub: holds an entry (with no name|named )/
  })),
  {
    name: 'two entries with one name',
    build: () => { const b = new Builder(); return b.dag(b.folder([['same', b.file('one')], ['same', b.file('two')]])) },
    message: /: holds two entries named "same"/
  },
  {
    name: 'a symbolic link',
    build: () => { const b = new Builder(); return b.dag(b.folder({ ok: b.file('ok'), link: b.node(new UnixFS({ type: 'symlink', data: Buffer.from('/etc/passwd') })) })) },
    message: /\/link: is a symbolic link/
  },
  {
    name: 'a dag-cbor node where a file should be',
    build: () => { const b = new Builder(); return b.dag(b.folder({ data: b.raw(Uint8Array.from([0xa1, 0x61, 0x61, 0x01]), 0x71) })) },
    message: /\/data: is a dag-cbor node, not a UnixFS file or folder/
  },
  {
    name: 'a dag-pb node without UnixFS data',
    build: () => {
      const b = new Builder()
      const bytes = dagPb.encode({ Links: [] })
      return b.dag(b.folder({ empty: b.put(CID.createV0(digest(bytes)), bytes) }))
    },
    message: /\/empty: is a dag-pb node without UnixFS data/
  },
  {
    name: 'a folder nested 300 deep',
    build: () => { const b = new Builder(); return b.dag(nested(b, 300, b.file('deep'))) },
    message: /(\/d){250,}: nests deeper than 256 levels/
  },
  {
    name: 'a DAG bomb (20 levels of two links to one folder: a million entries)',
    build: () => {
      const b = new Builder()
      let cid = b.file('boom')
      for (let i = 0; i < 20; i++) cid = b.folder({ a: cid, b: cid })
      return b.dag(cid)
    },
    message: /: expands to 2,097,151 files and folders, more than the 1,000,000 bac writes out/
  },
  {
    name: 'a file bomb (a 256 KiB block linked 174 times over, three levels: 1.3 TB)',
    build: () => {
      const b = new Builder()
      const leaf = b.node(new UnixFS({ type: 'file', data: new Uint8Array(262_144) }))
      let cid = leaf
      let size = 262_144n
      for (let level = 0; level < 3; level++) {
        cid = b.node(new UnixFS({ type: 'file', blockSizes: Array.from({ length: 174 }, () => size) }), Array.from({ length: 174 }, () => ({ cid })))
        size *= 174n
      }
      return b.dag(b.folder({ 'huge.bin': cid }))
    },
    message: /: expands to 1\.3 TiB of files, more than the 1\.0 TiB bac writes out/
  },
  {
    name: 'more bytes than the disk holds (a file bomb of 219 TiB, with no maxBytes)',
    build: () => {
      const b = new Builder()
      let cid = b.node(new UnixFS({ type: 'file', data: new Uint8Array(262_144) }))
      let size = 262_144n
      for (let level = 0; level < 4; level++) {
        cid = b.node(new UnixFS({ type: 'file', blockSizes: Array.from({ length: 174 }, () => size) }), Array.from({ length: 174 }, () => ({ cid })))
        size *= 174n
      }
      return b.dag(b.folder({ 'huge.bin': cid }))
    },
    error: 'DiskSpaceError',
    message: /\/out: needs about 218\.\d TiB of disk and only [\d.]+ [KMGT]iB is free there/,
    options: { maxBytes: Infinity }
  },
  {
    name: 'more bytes than maxBytes',
    build: () => {
      const b = new Builder()
      const mib = b.raw(new Uint8Array(1024 * 1024))
      return b.dag(b.folder(Array.from({ length: 20 }, (_, i): [string, CID] => [`copy-${i}`, mib])))
    },
    message: /: expands to 20\.0 MiB of files, more than the 10\.0 MiB bac writes out/,
    options: { maxBytes: 10 * 1024 * 1024 }
  },
  {
    name: 'a file whose blocks do not add up to its recorded sizes',
    build: () => {
      const b = new Builder()
      const lies = b.node(new UnixFS({ type: 'file', blockSizes: [10n, 5n] }), [{ cid: b.file('0123456789') }, { cid: b.file('shrt') }])
      return b.dag(b.folder({ 'lies.txt': lies, 'later.txt': b.file('later') }))
    },
    message: /\/lies\.txt: is a file whose block \S+ holds only 4 bytes where its parent records 5/
  },
  {
    name: 'a file node with more links than block sizes',
    build: () => { const b = new Builder(); return b.dag(b.folder({ 'odd.bin': b.node(new UnixFS({ type: 'file', blockSizes: [1n] }), [{ cid: b.file('a') }, { cid: b.file('b') }]) })) },
    message: /\/odd\.bin: is a file node with 2 links but 1 block sizes/
  },
  {
    name: 'a folder inside a file',
    build: () => { const b = new Builder(); return b.dag(b.folder({ 'f.bin': b.node(new UnixFS({ type: 'file', blockSizes: [0n] }), [{ cid: b.folder({}) }]) })) },
    message: /\/f\.bin: is a file whose DAG holds a folder node/
  },
  {
    name: 'a sharded folder holding ".."',
    build: () => { const b = new Builder(); return b.dag(b.folder({ hamt: b.shard([['0A..', b.file('pwned')], ['1Bok', b.file('ok')]]) })) },
    message: /\/hamt: holds an entry named "\.\."/
  },
  {
    name: 'a sharded folder holding one name in two shards',
    build: () => { const b = new Builder(); return b.dag(b.shard([['00', b.shard([['0Ax', b.file('one')]])], ['01', b.shard([['0Bx', b.file('two')]])]])) },
    message: /: holds two entries named "x"/
  },
  {
    name: 'a sharded folder linking one shard twice',
    build: () => {
      const b = new Builder()
      const sub = b.shard([['0Ax', b.file('one')]])
      return b.dag(b.shard([['00', sub], ['01', sub]]))
    },
    message: /: is a sharded folder that links its shard \S+ more than once/
  },
  {
    name: 'a sharded folder with a label that is not a hex prefix',
    build: () => { const b = new Builder(); return b.dag(b.shard([['zz-name', b.file('x')]])) },
    message: /: is a sharded folder with a link labelled "zz-name"/
  }
]

/** Builds and stores every hostile DAG, then checks `get` refuses each, writing nothing. */
export function hostileDagCompliance (name: string, create: (dataDir: string) => ContentStore, init: { identity?: boolean } = {}): void {
  describe(`content store refuses hostile DAGs: ${name}`, () => {
    const { root, store } = storeUnderTest('bac-hostile-', create)
    let n = 0

    it('still writes what is well formed: a sharded folder, raw blocks' + (init.identity === true ? ', identity CIDs' : ''), async () => {
      const dir = path.join(root, `case-${n++}`)
      mkdirSync(path.join(dir, 'wide'), { recursive: true })
      // names long enough that the folder is sharded, as Kubo shards it
      for (let i = 0; i < 2200; i++) writeFileSync(path.join(dir, 'wide', `${'n'.repeat(90)}-${i}`), `${i}\n`)
      const wide = await store.addPath(path.join(dir, 'wide'))
      await store.get(wide, path.join(dir, 'wide-out'))
      assert.equal(readdirSync(path.join(dir, 'wide-out')).length, 2200)
      assert.equal(readFileSync(path.join(dir, 'wide-out', `${'n'.repeat(90)}-1234`), 'utf8'), '1234\n')
      const b = new Builder()
      const entries: Record<string, CID> = {
        'raw.bin': b.raw(Buffer.from('raw bytes')),
        'chunked.txt': b.node(new UnixFS({ type: 'file', blockSizes: [4n, 3n] }), [{ cid: b.raw(Buffer.from('one ')) }, { cid: b.file('two') }])
      }
      if (init.identity === true) entries['inline.txt'] = b.put(CID.createV1(0x55, createDigest(0x00, Buffer.from('inline'))), Buffer.from('inline'))
      const dag = b.dag(b.folder(entries))
      await store.importCar([await carOf(dag, [dag.root], (cid) => cid.multihash.code === 0x00)])
      await store.get(dag.root.toString(), path.join(dir, 'leaves'))
      assert.equal(readFileSync(path.join(dir, 'leaves', 'raw.bin'), 'utf8'), 'raw bytes')
      assert.equal(readFileSync(path.join(dir, 'leaves', 'chunked.txt'), 'utf8'), 'one two')
      if (init.identity === true) assert.equal(readFileSync(path.join(dir, 'leaves', 'inline.txt'), 'utf8'), 'inline')
    })

    for (const c of HOSTILE_CASES) {
      it(`refuses ${c.name}, writing nothing`, async (t) => {
        const dag = c.build()
        assert.deepEqual(await store.importCar([await carOf(dag)]), [dag.root.toString()])
        // a daemon that pins lets go of it again: some walk every pinned DAG whole, a bomb included
        t.after(async () => { await store.unpin?.(dag.root.toString()) })
        const dir = path.join(root, `case-${n++}`)
        mkdirSync(dir)
        const target = path.join(dir, 'out')
        const started = performance.now()
        await assert.rejects(store.get(dag.root.toString(), target, c.options), (err: Error) => {
          assert.equal(err.name, c.error ?? 'UnsafeContentError', err.message)
          assert.match(err.message, c.message)
          assert.ok(err.message.startsWith(c.error === 'DiskSpaceError' ? target : dag.root.toString()), err.message)
          assert.doesNotMatch(err.message, /[\n\0]/)
          return true
        })
        assert.ok(performance.now() - started < 20_000, 'refused at once, not after writing it all')
        assert.equal(existsSync(target), false)
        assert.deepEqual(readdirSync(dir), [], 'no staging folder or partial file is left')
        assert.equal(existsSync(path.join(root, 'escaped')), false)
        assert.equal(existsSync('/etc/escaped'), false)
      })
    }
  })
}
