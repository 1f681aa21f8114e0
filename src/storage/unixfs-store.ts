import { unixfs } from '@helia/unixfs'
import type { Blockstore } from 'interface-blockstore'
import { exporter } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import type { AddPathOptions, ContentEntry, ContentStat, ContentStore, GetOptions, StoreOptions } from '../interfaces/content-store.js'
import { ContentNotFoundError, InvalidCidError, MergeClashError, NotAFolderError, UnsafeContentError } from '../interfaces/errors.js'

export { parseContentPath }
import { parseContentPath } from '../common/cid.js'
import { folderSource, ROOT_NAME } from './fs-source.js'
import { kuboImportOptions } from './kubo-import.js'
import { importBytes, importFile, type PutBlock } from './file-importer.js'
import { importFolder, ShardedFolder } from './folder-importer.js'
import { fitsOneNode, writeFolderNode } from './folder-node.js'
import { materialize } from './materialize.js'
import { measure } from './measure.js'
import { exportCar, importCar } from './car.js'
import { fileContent } from './file-content.js'
import { folderEntries, OpenNodes, readNode } from './unixfs-node.js'
import { readBlock } from './blocks.js'
import { logger } from '../common/log.js'

const log = logger('storage')

export interface UnixfsStoreComponents {
  blockstore: Blockstore
}

function normalize (text: string): string {
  const { cid, path } = parseContentPath(text)
  return path === '' ? cid.toString() : `${cid.toString()}/${path}`
}

/**
 * The CID a content path names: the CID itself, or what its path leads to (read through the
 * exporter, which finds names in sharded folders). With `through`, every block read on the way
 * is given to it, in order.
 */
export async function resolvePath (source: string, blockstore: Pick<Blockstore, 'get'>, signal?: AbortSignal, through?: (cid: CID, bytes: Uint8Array) => void): Promise<CID> {
  const { cid, path } = parseContentPath(source)
  if (path === '') return cid
  const recording: Pick<Blockstore, 'get'> = through === undefined
    ? blockstore
    : { get: async function * (c: CID, options?: { signal?: AbortSignal }) { const bytes = await readBlock(c, blockstore, options?.signal); through(c, bytes); yield bytes } }
  return (await exporter(`${cid.toString()}/${path}`, recording as Blockstore, { signal })).cid
}

/**
 * Passes a source through, stopping with the signal's reason once it aborts: the importer reads
 * its source to the end and does not check the signal itself.
 */
export async function * abortable<T> (source: AsyncIterable<T> | Iterable<T>, signal?: AbortSignal): AsyncGenerator<T> {
  signal?.throwIfAborted()
  for await (const item of source) {
    signal?.throwIfAborted()
    yield item
  }
}

/**
 * Builds one folder level: entries whose path ends here are linked, the rest become sub-folders.
 * A folder that stays one node is written in one go; a larger one (which Kubo would shard) is
 * built link by link with `cp`, which shards as Kubo does.
 */
async function composeFolder (fs: ReturnType<typeof unixfs>, blockstore: Blockstore, sizes: TreeSizes, entries: Array<{ parts: string[], cid: string }>, signal?: AbortSignal): Promise<CID> {
  const groups = new Map<string, Array<{ parts: string[], cid: string }>>()
  for (const { parts, cid } of entries) {
    const [head, ...rest] = parts
    if (head === undefined) throw new InvalidCidError(cid, { cause: new Error('an entry needs a name') })
    const group = groups.get(head) ?? []
    group.push({ parts: rest, cid })
    groups.set(head, group)
  }
  const links: Array<{ name: string, cid: CID, tsize?: number }> = []
  for (const [name, group] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const leaf = group.find((e) => e.parts.length === 0)
    if (leaf !== undefined && group.length > 1) throw new UnsafeContentError(name, 'is given both as content and as a folder of other entries')
    const cid = leaf !== undefined ? parseContentPath(leaf.cid).cid : await composeFolder(fs, blockstore, sizes, group, signal)
    const tsize = sizes.get(cid.toString())
    links.push(tsize === undefined ? { name, cid } : { name, cid, tsize })
  }
  if (fitsOneNode(links.map((l) => ({ name: l.name, cidBytes: l.cid.bytes.length })))) {
    const node = await writeFolderNode(links, blockstore)
    sizes.set(node.cid.toString(), node.tsize)
    return node.cid
  }
  let folder = await fs.addDirectory({}, { cidVersion: 0, signal })
  for (const link of links) folder = await fs.cp(link.cid, folder, link.name, { signal, offline: true })
  return folder
}

/**
 * The Tsize (bytes of the whole DAG) of roots this store wrote lately, so composing a folder of
 * them need not read their blocks back. Bounded: past the limit it starts over.
 */
class TreeSizes {
  private readonly sizes = new Map<string, number>()
  get (cid: string): number | undefined { return this.sizes.get(cid) }
  set (cid: string, tsize: number): void {
    if (this.sizes.size >= 10_000) this.sizes.clear()
    this.sizes.set(cid, tsize)
  }

  /** Records an imported root and gives its CID as text. */
  root (node: { cid: CID, tsize: number }): string {
    const cid = node.cid.toString()
    this.set(cid, node.tsize)
    return cid
  }
}

/** Blockstores report a missing block with an error named NotFoundError. */
function notFound (source: string, err: unknown): never {
  if (err instanceof ContentNotFoundError) throw err
  if (err instanceof Error && /NotFound/i.test(err.name)) throw new ContentNotFoundError(source, 'it is not in the local store', { cause: err })
  throw err
}

/** The store with what it adds and writes out in the debug log (`DEBUG=bac:storage`). */
function logged (store: ContentStore): ContentStore {
  if (!log.enabled) return store
  return {
    ...store,
    addPath: async (target, options) => {
      const started = performance.now()
      const cid = await store.addPath(target, options)
      log.debug('added', { path: target, cid, ms: Math.round(performance.now() - started) })
      return cid
    },
    get: async (source, target, options) => {
      const started = performance.now()
      await store.get(source, target, options)
      log.debug('written out', { cid: source, target, ms: Math.round(performance.now() - started) })
    }
  }
}

/**
 * A content store on any blockstore, with UnixFS as Kubo writes it. The embedded store gives it
 * a filesystem blockstore; a networked node gives it one that fetches missing blocks by bitswap.
 */
export function createUnixfsStore (components: UnixfsStoreComponents): ContentStore {
  const { blockstore } = components
  const fs = unixfs({ blockstore })
  const importOptions = kuboImportOptions()
  const sizes = new TreeSizes()
  const put: PutBlock = async (cid, bytes) => await blockstore.put(cid, bytes)

  const store: ContentStore = {
    start: async () => {},
    stop: async () => {},
    async addPath (target: string, options: AddPathOptions = {}): Promise<string> {
      const { signal, within } = options
      // tried as a folder first: outputs folders are the common case, and a failed readdir of a
      // file costs no more than the stat that would otherwise come first
      try {
        return sizes.root(await importFolder(target, put, blockstore, signal, within))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return sizes.root(await importFile(target, put, signal, within))
        if (!(err instanceof ShardedFolder)) throw err
      }
      // A folder too large for one node: the general importer shards it as Kubo does.
      let root: string | undefined
      for await (const entry of fs.addAll(abortable(folderSource(target, signal, within), signal), { ...importOptions, signal })) {
        if (entry.path === ROOT_NAME) root = entry.cid.toString()
      }
      if (root === undefined) throw new Error(`adding ${target} produced no root folder`)
      return root
    },
    async addBytes (content, options: StoreOptions = {}): Promise<string> {
      return sizes.root(await importBytes(content instanceof Uint8Array ? [content] : content, put, options.signal))
    },
    async * cat (source: string, options: StoreOptions = {}): AsyncIterable<Uint8Array> {
      const { signal } = options
      const where = normalize(source)
      try {
        const node = await readNode(await resolvePath(source, blockstore, signal), where, blockstore, signal)
        if (node.kind !== 'file') throw new UnsafeContentError(source, 'is a folder, not a file: use get to write it out')
        yield * fileContent(node, where, blockstore, { signal })
      } catch (err) {
        notFound(source, err)
      }
    },
    async get (source: string, target: string, options: GetOptions = {}): Promise<void> {
      try {
        await materialize(await resolvePath(source, blockstore, options.signal), normalize(source), target, blockstore, options)
      } catch (err) {
        notFound(source, err)
      }
    },
    async stat (source: string, options: StoreOptions = {}): Promise<ContentStat> {
      const { signal } = options
      try {
        const cid = await resolvePath(source, blockstore, signal)
        const node = await readNode(cid, normalize(source), blockstore, signal)
        if (node.kind === 'file') return { cid: cid.toString(), type: 'file', size: node.size }
        return { cid: cid.toString(), type: 'directory', size: (await measure(cid, normalize(source), blockstore, signal)).bytes }
      } catch (err) {
        notFound(source, err)
      }
    },
    async list (source: string, options: StoreOptions & { readonly limit?: number } = {}): Promise<ContentEntry[]> {
      const { signal } = options
      const where = normalize(source)
      try {
        const cid = await resolvePath(source, blockstore, signal)
        const node = await readNode(cid, where, blockstore, signal)
        if (node.kind === 'file') throw new NotAFolderError(`${where} is a file, not a folder`)
        const entries: ContentEntry[] = []
        const open = new OpenNodes()
        for await (const entry of folderEntries(node, where, 0, blockstore, open, signal)) {
          if (entries.length >= (options.limit ?? 1000)) break
          const child = await readNode(entry.cid, `${where}/${entry.name}`, blockstore, signal)
          entries.push({ name: entry.name, cid: entry.cid.toString(), type: child.kind === 'file' ? 'file' : 'directory', size: child.kind === 'file' ? child.size : 0 })
        }
        return entries
      } catch (err) {
        notFound(source, err)
      }
    },
    async compose (entries, options: StoreOptions = {}): Promise<string> {
      return (await composeFolder(fs, blockstore, sizes, Object.entries(entries).map(([name, cid]) => ({ parts: name.split('/').filter((p) => p !== ''), cid })), options.signal)).toString()
    },
    async merge (cids, options: StoreOptions = {}): Promise<string> {
      const { signal } = options
      // folder by folder: a sub-folder all sides share stays as it is, only differing ones are read
      const level = async (roots: CID[], at: string): Promise<string> => {
        const unique = [...new Map(roots.map((c) => [c.toString(), c])).values()]
        if (unique.length === 1) return (unique[0] as CID).toString()
        const entries = await Promise.all(unique.map(async (c) => await exporter(c, blockstore, { signal })))
        if (entries.some((e) => e.type !== 'directory')) throw new MergeClashError(at === '' ? 'the top folder' : at, 'differs between them (and is a file in at least one)')
        const children = new Map<string, CID[]>()
        for (const entry of entries) {
          if (entry.type !== 'directory') continue
          for await (const child of entry.entries({ signal })) children.set(child.name, [...(children.get(child.name) ?? []), child.cid])
        }
        const merged: Record<string, string> = {}
        for (const [name, list] of [...children].sort(([a], [b]) => (a < b ? -1 : 1))) merged[name] = await level(list, at === '' ? name : `${at}/${name}`)
        return (await composeFolder(fs, blockstore, sizes, Object.entries(merged).map(([name, cid]) => ({ parts: [name], cid })), signal)).toString()
      }
      try {
        return await level(cids.map((c) => parseContentPath(c).cid), '')
      } catch (err) {
        notFound(cids.join(', '), err)
      }
    },
    async * exportCar (source: string, options: StoreOptions = {}): AsyncIterable<Uint8Array> {
      const { signal } = options
      try {
        // a sub-path's CAR starts with the blocks down the path, rooted at the CID it starts from
        const through = new Map<string, { cid: CID, bytes: Uint8Array }>()
        const root = await resolvePath(source, blockstore, signal, (cid, bytes) => { through.set(cid.toString(), { cid, bytes }) })
        through.delete(root.toString())
        yield * exportCar(root, blockstore, signal, [...through.values()])
      } catch (err) {
        notFound(source, err)
      }
    },
    async importCar (car, options: StoreOptions = {}): Promise<string[]> {
      return (await importCar(abortable(car, options.signal), blockstore, 'the CAR stream')).map((c) => c.toString())
    },
    async has (source: string): Promise<boolean> {
      return await blockstore.has(parseContentPath(source).cid)
    }
  }
  return logged(store)
}
