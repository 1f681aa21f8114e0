import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import Database from 'better-sqlite3'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { BlockStoreError } from '../interfaces/errors.js'
import { blockBytes, blockPair } from './blocks.js'

interface AbortOptions { signal?: AbortSignal }

/** Named as interface-store names its errors, which the content store and Helia test by name. */
class NotFoundError extends Error {
  override name = 'NotFoundError'
}

/** A pack is closed and a new one begun past this size. */
const PACK_BYTES = 1024 ** 3
/** `putMany` writes blocks in runs of this many bytes. */
const BATCH_BYTES = 8 * 1024 * 1024
/** Blocks up to this size are kept in memory once read or written: folder nodes, small files. */
const CACHED_BLOCK_BYTES = 16 * 1024
/** Bytes of small blocks kept in memory at most; past it the least recently used go. */
const CACHE_BYTES = 32 * 1024 * 1024

const SCHEMA = `
CREATE TABLE IF NOT EXISTS packs (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS blocks (
  multihash BLOB PRIMARY KEY,
  cid BLOB NOT NULL,
  pack INTEGER NOT NULL REFERENCES packs (id),
  offset INTEGER NOT NULL,
  length INTEGER NOT NULL
) WITHOUT ROWID;
`

/** The least recently used small blocks, by multihash. */
class SmallBlocks {
  private readonly blocks = new Map<string, Uint8Array>()
  private bytes = 0

  get (key: string): Uint8Array | undefined {
    const block = this.blocks.get(key)
    if (block !== undefined) { this.blocks.delete(key); this.blocks.set(key, block) }
    return block
  }

  set (key: string, block: Uint8Array): void {
    if (block.length > CACHED_BLOCK_BYTES || this.blocks.has(key)) return
    this.blocks.set(key, block)
    this.bytes += block.length
    for (const [oldest, old] of this.blocks) {
      if (this.bytes <= CACHE_BYTES) break
      this.blocks.delete(oldest)
      this.bytes -= old.length
    }
  }

  delete (key: string): void {
    const block = this.blocks.get(key)
    if (block !== undefined) { this.blocks.delete(key); this.bytes -= block.length }
  }
}

interface Location { pack: number, offset: number, length: number }

/** A block's key in the memory cache and among writes under way. */
function cacheKey (multihash: Uint8Array): string {
  return Buffer.from(multihash).toString('base64')
}

/**
 * Blocks appended to pack files (`<dir>/packs/*.pack`) with an index of where each is
 * (`<dir>/index.db`, SQLite in WAL mode). Adding 100 MB is one sequential write rather than 400
 * new files, which is what makes an add run at the speed of reading and hashing.
 *
 * - Each opened store appends to a pack of its own, so several processes can share a data dir:
 *   they meet only in the index, which SQLite serialises.
 * - A block is written before its index row, so a kill at any moment leaves at worst unindexed
 *   bytes at the end of a pack, never an index row pointing at nothing.
 * - Every block read is checked against its hash: a block damaged on disk (a power loss before
 *   the pack reached the disk) reads as missing, never as wrong content.
 * - Small blocks are cached in memory, bounded; stored blocks are never written twice.
 * - Deleting drops the index row; the bytes stay in the pack until the store is compacted.
 */
export class PackBlockstore implements Blockstore {
  private db: Database.Database | undefined
  private statements: {
    find: Database.Statement<[Uint8Array], Location>
    insert: Database.Statement<[Uint8Array, Uint8Array, number, number, number]>
    remove: Database.Statement<[Uint8Array]>
    all: Database.Statement<[], { cid: Uint8Array }>
    pack: Database.Statement<[string]>
    packName: Database.Statement<[number], { name: string }>
    insertMany: (rows: Array<{ cid: CID, pack: number, offset: number, length: number }>) => void
  } | undefined

  private writer: { id: number, handle: FileHandle, size: number } | undefined
  /** Full packs, closed with the store: writes to them may still be under way. */
  private readonly retired: FileHandle[] = []
  private opening: Promise<{ id: number, handle: FileHandle, size: number }> | undefined
  private readonly readers = new Map<number, Promise<FileHandle>>()
  private readonly inflight = new Map<string, Promise<CID>>()
  private readonly small = new SmallBlocks()

  constructor (readonly dir: string) {}

  async open (): Promise<void> {
    try {
      mkdirSync(path.join(this.dir, 'packs'), { recursive: true })
      const db = new Database(path.join(this.dir, 'index.db'), { timeout: 5000 })
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
      db.exec(SCHEMA)
      this.db = db
      this.statements = {
        find: db.prepare<[Uint8Array], Location>('SELECT pack, offset, length FROM blocks WHERE multihash = ?'),
        insert: db.prepare('INSERT OR IGNORE INTO blocks (multihash, cid, pack, offset, length) VALUES (?, ?, ?, ?, ?)'),
        remove: db.prepare('DELETE FROM blocks WHERE multihash = ?'),
        all: db.prepare<[], { cid: Uint8Array }>('SELECT cid FROM blocks'),
        pack: db.prepare('INSERT INTO packs (name) VALUES (?)'),
        packName: db.prepare<[number], { name: string }>('SELECT name FROM packs WHERE id = ?'),
        insertMany: () => {}
      }
      const insert = this.statements.insert
      this.statements.insertMany = db.transaction((rows: Array<{ cid: CID, pack: number, offset: number, length: number }>) => {
        for (const r of rows) insert.run(r.cid.multihash.bytes, r.cid.bytes, r.pack, r.offset, r.length)
      })
    } catch (err) {
      throw new BlockStoreError(`cannot open the block store in ${this.dir}: ${(err as Error).message}`, { cause: err })
    }
  }

  async close (): Promise<void> {
    const writer = this.writer ?? await this.opening?.catch(() => undefined)
    this.writer = undefined
    this.opening = undefined
    await writer?.handle.close()
    for (const handle of this.retired.splice(0)) await handle.close()
    for (const reader of this.readers.values()) await (await reader.catch(() => undefined))?.close()
    this.readers.clear()
    this.db?.close()
    this.db = undefined
    this.statements = undefined
  }

  private get sql (): NonNullable<PackBlockstore['statements']> {
    if (this.statements === undefined) throw new BlockStoreError(`the block store in ${this.dir} is not open`)
    return this.statements
  }

  private packFile (name: string): string {
    return path.join(this.dir, 'packs', `${name}.pack`)
  }

  /** This store's pack to append to, begun on the first write and again when one is full. */
  private async pack (length: number): Promise<{ id: number, handle: FileHandle, size: number }> {
    if (this.writer !== undefined && this.writer.size + length <= PACK_BYTES) return this.writer
    if (this.writer !== undefined) {
      this.retired.push(this.writer.handle)
      this.writer = undefined
    }
    this.opening ??= (async () => {
      const name = `${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString('hex')}`
      const handle = await open(this.packFile(name), 'wx')
      const id = Number(this.sql.pack.run(name).lastInsertRowid)
      this.writer = { id, handle, size: 0 }
      return this.writer
    })().finally(() => { this.opening = undefined })
    return await this.opening
  }

  async put (cid: CID, value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options?: AbortOptions): Promise<CID> {
    const multihash = cid.multihash.bytes
    const key = cacheKey(multihash)
    if (this.small.get(key) !== undefined) return cid
    const running = this.inflight.get(key)
    if (running !== undefined) return await running
    const write = (async () => {
      options?.signal?.throwIfAborted()
      if (this.sql.find.get(multihash) !== undefined) return cid
      const bytes = await blockBytes(value)
      const pack = await this.pack(bytes.length)
      // the place is taken before the write, so writes of several blocks go on side by side
      const offset = pack.size
      pack.size += bytes.length
      try {
        await pack.handle.write(bytes, 0, bytes.length, offset)
      } catch (err) {
        throw new BlockStoreError(`cannot write block ${cid.toString()} to ${this.dir}: ${(err as Error).message}`, { cause: err })
      }
      this.sql.insert.run(multihash, cid.bytes, pack.id, offset, bytes.length)
      this.small.set(key, bytes)
      return cid
    })().finally(() => this.inflight.delete(key))
    this.inflight.set(key, write)
    return await write
  }

  /**
   * Stores blocks given together with one write and one index transaction for each run of up to
   * 8 MiB: what a transfer of many blocks from a peer needs.
   */
  async * putMany (source: Iterable<InputPair> | AsyncIterable<InputPair>, options?: AbortOptions): AsyncGenerator<CID> {
    let batch: Array<{ cid: CID, bytes: Uint8Array }> = []
    let size = 0
    for await (const { cid, bytes } of source) {
      const whole = await blockBytes(bytes)
      batch.push({ cid, bytes: whole })
      size += whole.length
      if (size >= BATCH_BYTES) {
        yield * await this.putBatch(batch, options)
        batch = []
        size = 0
      }
    }
    if (batch.length > 0) yield * await this.putBatch(batch, options)
  }

  private async putBatch (blocks: Array<{ cid: CID, bytes: Uint8Array }>, options?: AbortOptions): Promise<CID[]> {
    options?.signal?.throwIfAborted()
    const fresh = new Map<string, { cid: CID, bytes: Uint8Array }>()
    const waits: Array<Promise<CID>> = []
    for (const block of blocks) {
      const multihash = block.cid.multihash.bytes
      const key = cacheKey(multihash)
      const running = this.inflight.get(key)
      if (running !== undefined) waits.push(running)
      else if (!fresh.has(key) && this.small.get(key) === undefined && this.sql.find.get(multihash) === undefined) fresh.set(key, block)
    }
    if (fresh.size > 0) {
      const write = (async () => {
        const list = [...fresh.values()]
        const total = list.reduce((n, b) => n + b.bytes.length, 0)
        const pack = await this.pack(total)
        const start = pack.size
        pack.size += total
        try {
          await pack.handle.writev(list.map((b) => b.bytes), start)
        } catch (err) {
          throw new BlockStoreError(`cannot write ${list.length} blocks to ${this.dir}: ${(err as Error).message}`, { cause: err })
        }
        // the bytes are written before their rows, in one transaction
        let offset = start
        this.sql.insertMany(list.map((b) => {
          const row = { cid: b.cid, pack: pack.id, offset, length: b.bytes.length }
          offset += b.bytes.length
          return row
        }))
        for (const [key, b] of fresh) this.small.set(key, b.bytes)
      })()
      for (const [key, b] of fresh) {
        const stored = write.then(() => b.cid)
        stored.catch(() => {})
        this.inflight.set(key, stored)
      }
      try {
        await write
      } finally {
        for (const key of fresh.keys()) this.inflight.delete(key)
      }
    }
    await Promise.all(waits)
    return blocks.map((b) => b.cid)
  }

  private async reader (pack: number): Promise<FileHandle> {
    let handle = this.readers.get(pack)
    if (handle === undefined) {
      const row = this.sql.packName.get(pack)
      handle = row === undefined ? Promise.reject(new NotFoundError(`pack ${pack} is not in the index`)) : open(this.packFile(row.name), 'r')
      handle.catch(() => this.readers.delete(pack))
      this.readers.set(pack, handle)
    }
    return await handle
  }

  /** The block's bytes, checked against its hash. */
  private async read (cid: CID, options?: AbortOptions): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    const multihash = cid.multihash.bytes
    const key = cacheKey(multihash)
    const cached = this.small.get(key)
    if (cached !== undefined) return cached
    const at = this.sql.find.get(multihash)
    if (at === undefined) throw new NotFoundError(`block ${cid.toString()} is not in ${this.dir}`)
    const bytes = Buffer.allocUnsafe(at.length)
    let handle: FileHandle
    try {
      handle = await this.reader(at.pack)
    } catch (err) {
      throw new NotFoundError(`block ${cid.toString()}: its pack cannot be read (${(err as Error).message})`)
    }
    const { bytesRead } = await handle.read(bytes, 0, at.length, at.offset)
    const intact = bytesRead === at.length && (cid.multihash.code !== sha256.code || createHash('sha256').update(bytes).digest().equals(cid.multihash.digest))
    if (!intact) throw new NotFoundError(`block ${cid.toString()} is damaged on disk in ${this.dir}; add the content again`)
    this.small.set(key, bytes)
    return bytes
  }

  async * get (cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    yield await this.read(cid, options)
  }

  async * getMany (source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const cid of source) {
      const bytes = await this.read(cid, options)
      yield blockPair(cid, bytes)
    }
  }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    options?.signal?.throwIfAborted()
    const multihash = cid.multihash.bytes
    return this.small.get(cacheKey(multihash)) !== undefined || this.sql.find.get(multihash) !== undefined
  }

  async delete (cid: CID, options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const multihash = cid.multihash.bytes
    this.small.delete(cacheKey(multihash))
    this.sql.remove.run(multihash)
  }

  async * deleteMany (source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<CID> {
    for await (const cid of source) {
      await this.delete(cid, options)
      yield cid
    }
  }

  async * getAll (options?: AbortOptions): AsyncGenerator<Pair> {
    // read out first: the connection cannot run other statements while a query is open
    for (const row of this.sql.all.all()) {
      const cid = CID.decode(row.cid)
      const bytes = await this.read(cid, options)
      yield blockPair(cid, bytes)
    }
  }
}
