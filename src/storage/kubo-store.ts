import { CarWriter } from '@ipld/car'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import { exporter } from 'ipfs-unixfs-exporter'
import { create, type KuboRPCClient } from 'kubo-rpc-client'
import { CID } from 'multiformats/cid'
import { BacError, ContentNotFoundError, IpfsApiError } from '../interfaces/errors.js'
import type { ContentStore, StoreOptions } from '../interfaces/content-store.js'
import { blockBytes, blockMatches, blockPair } from './blocks.js'
import { createUnixfsStore, parseContentPath } from './unixfs-store.js'

interface AbortOptions { signal?: AbortSignal }

/** How long a block may take to arrive through the daemon (from its store or the IPFS network). */
export const DEFAULT_KUBO_TIMEOUT_MS = 60_000
/** The oldest Kubo whose RPC API bac uses (dag import with pin-roots, offline requests). */
export const MIN_KUBO_VERSION = '0.18.0'
/** Blocks written are sent to the daemon in CARs of about this many bytes. */
const FLUSH_BYTES = 8 * 1024 * 1024

export interface KuboStoreInit {
  /** The daemon's RPC API: a multiaddr (`/ip4/127.0.0.1/tcp/5001`) or a URL (`http://127.0.0.1:5001`). */
  api: string
  /** How long a CID may take to be found before the request fails. @default 60 s */
  timeoutMs?: number
}

/** The RPC base URL of a multiaddr or URL (`/ip4/127.0.0.1/tcp/5001` → `http://127.0.0.1:5001`). */
export function ipfsApiUrl (api: string): string {
  const trimmed = api.trim()
  if (trimmed.startsWith('/')) {
    const parts = trimmed.split('/').filter((p) => p !== '')
    const host = parts[1]
    const port = parts[3]
    const hostKind = ['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(parts[0] ?? '')
    if (hostKind && parts[2] === 'tcp' && host !== undefined && port !== undefined && /^\d+$/.test(port)) {
      const scheme = parts[4] === 'https' ? 'https' : 'http'
      return `${scheme}://${parts[0] === 'ip6' ? `[${host}]` : host}:${port}`
    }
    throw new IpfsApiError(`--ipfs-api ${api}: not an address bac can use; give /ip4/<host>/tcp/<port> or http://<host>:<port>`)
  }
  let url: URL
  try {
    url = new URL(trimmed)
  } catch {
    throw new IpfsApiError(`--ipfs-api ${api}: not a URL or multiaddr; give http://<host>:<port> or /ip4/<host>/tcp/<port>`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new IpfsApiError(`--ipfs-api ${api}: only http and https are supported`)
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/api\/v0\/?$/, '').replace(/\/$/, '')}`
}

/**
 * What went wrong talking to the daemon, as a user reads it: not running (with the address
 * tried), not an RPC API, a CID not found in time; otherwise the daemon's own message.
 */
function explain (err: unknown, url: string, what: string): Error {
  if (err instanceof BacError) return err
  const e = err as { name?: string, message?: string, cause?: { code?: string, message?: string }, response?: { status?: number } }
  const code = e.cause?.code ?? (e as { code?: string }).code
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ECONNRESET' || (e.name === 'TypeError' && e.message === 'fetch failed')) {
    return new IpfsApiError(`cannot reach the IPFS daemon at ${url} (${code ?? e.cause?.message ?? 'connection failed'}) to ${what}: ` +
      `start it (ipfs daemon) or point --ipfs-api (or $BAC_IPFS_API) at its RPC address, Addresses.API in its config`, { cause: err })
  }
  if (e.response?.status === 404 || e.response?.status === 405) {
    return new IpfsApiError(`${url} is not an IPFS RPC API (HTTP ${e.response.status} for ${what}): ` +
      `give the daemon's API address (Addresses.API, port 5001 by default), not its gateway`, { cause: err })
  }
  return new IpfsApiError(`the IPFS daemon at ${url} could not ${what}: ${e.message ?? String(err)}`, { cause: err })
}

function isTimeout (err: unknown): boolean {
  const e = err as { name?: string, message?: string }
  return e.name === 'TimeoutError' || /timed out|deadline exceeded/i.test(e.message ?? '')
}

function isNotFound (err: unknown): boolean {
  return /not found|no link named|could not resolve|does not exist|failed to get block/i.test((err as { message?: string }).message ?? '')
}

/**
 * The blocks of a Kubo daemon, through its RPC API. Blocks written are kept here and sent in
 * CARs of about 8 MiB (`dag import`, one request each) rather than one request a block; `flush`
 * sends what is left. Blocks read are checked against their CID. `has` asks offline, so a
 * missing block answers at once rather than after a network search.
 */
export class KuboBlockstore implements Blockstore {
  private pending = new Map<string, { cid: CID, bytes: Uint8Array }>()
  private pendingBytes = 0
  private flushing: Promise<void> = Promise.resolve()

  constructor (readonly client: KuboRPCClient, readonly url: string, readonly timeoutMs: number) {}

  async put (cid: CID, value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options?: AbortOptions): Promise<CID> {
    options?.signal?.throwIfAborted()
    const bytes = await blockBytes(value)
    const key = cid.toString()
    if (!this.pending.has(key)) {
      this.pending.set(key, { cid, bytes })
      this.pendingBytes += bytes.length
    }
    if (this.pendingBytes >= FLUSH_BYTES) await this.flush(options)
    return cid
  }

  async * putMany (source: Iterable<InputPair> | AsyncIterable<InputPair>, options?: AbortOptions): AsyncGenerator<CID> {
    for await (const { cid, bytes } of source) yield await this.put(cid, bytes, options)
  }

  /** Sends the blocks written so far to the daemon (one CAR), and waits for it to store them. */
  async flush (options?: AbortOptions): Promise<void> {
    const run = this.flushing.then(async () => {
      if (this.pending.size === 0) return
      const blocks = [...this.pending.values()]
      const first = blocks[0] as { cid: CID }
      const { writer, out } = CarWriter.create([first.cid])
      const writing = (async () => {
        try {
          for (const block of blocks) await writer.put(block)
        } finally {
          await writer.close()
        }
      })()
      writing.catch(() => {})
      try {
        for await (const _ of this.client.dag.import(out, { pinRoots: false, signal: options?.signal })) { /* the results name the roots only */ }
        await writing
      } catch (err) {
        throw explain(err, this.url, `store ${blocks.length} blocks`)
      }
      for (const block of blocks) {
        const key = block.cid.toString()
        if (this.pending.get(key) === block) {
          this.pending.delete(key)
          this.pendingBytes -= block.bytes.length
        }
      }
    })
    this.flushing = run.catch(() => {})
    await run
  }

  async * get (cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    yield await this.read(cid, options)
  }

  private async read (cid: CID, options?: AbortOptions): Promise<Uint8Array> {
    const waiting = this.pending.get(cid.toString())
    if (waiting !== undefined) return waiting.bytes
    let bytes: Uint8Array
    try {
      bytes = await this.client.block.get(cid, { timeout: this.timeoutMs, signal: options?.signal })
    } catch (err) {
      if (options?.signal?.aborted === true) throw err
      if (isTimeout(err)) throw new ContentNotFoundError(cid.toString(), `the IPFS daemon at ${this.url} found no copy within ${Math.round(this.timeoutMs / 1000)} s (is a node that has it online?)`)
      throw explain(err, this.url, `get block ${cid.toString()}`)
    }
    if (!blockMatches(cid, bytes)) throw new IpfsApiError(`the IPFS daemon at ${this.url} answered block ${cid.toString()} with bytes that do not hash to it`)
    return bytes
  }

  async * getMany (source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const cid of source) {
      const bytes = await this.read(cid, options)
      yield blockPair(cid, bytes)
    }
  }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    if (this.pending.has(cid.toString())) return true
    try {
      // offline: only what the daemon holds, without asking the network
      await this.client.block.stat(cid, { searchParams: new URLSearchParams({ offline: 'true' }), timeout: 500, signal: options?.signal })
      return true
    } catch (err) {
      if (options?.signal?.aborted === true) throw err
      if (isTimeout(err) || isNotFound(err) || /offline|not found locally/i.test((err as Error).message ?? '')) return false
      throw explain(err, this.url, `look up block ${cid.toString()}`)
    }
  }

  async delete (cid: CID, options?: AbortOptions): Promise<void> {
    const waiting = this.pending.get(cid.toString())
    if (waiting !== undefined) {
      this.pending.delete(cid.toString())
      this.pendingBytes -= waiting.bytes.length
    }
    try {
      for await (const result of this.client.block.rm(cid, { force: true, signal: options?.signal })) {
        if (result.error !== undefined && !isNotFound(result.error)) throw result.error
      }
    } catch (err) {
      throw explain(err, this.url, `remove block ${cid.toString()}`)
    }
  }

  async * deleteMany (source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<CID> {
    for await (const cid of source) {
      await this.delete(cid, options)
      yield cid
    }
  }

  async * getAll (options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const ref of this.client.refs.local({ signal: options?.signal })) {
      if (ref.err != null) continue
      const cid = CID.parse(ref.ref)
      const bytes = await this.read(cid, options)
      yield blockPair(cid, bytes)
    }
  }
}

/** The blocks of the daemon at `init.api`. */
export function kuboBlockstore (init: KuboStoreInit): KuboBlockstore {
  const url = ipfsApiUrl(init.api)
  const timeoutMs = init.timeoutMs ?? DEFAULT_KUBO_TIMEOUT_MS
  return new KuboBlockstore(create({ url: `${url}/api/v0`, timeout: Math.max(timeoutMs, 60_000) * 4 }), url, timeoutMs)
}

/**
 * A node's own blockstore over the daemon's: what is written goes to both, what is read comes
 * from the node's when it has it, else from the daemon (and is kept). A networked node serves
 * its peers from its own blocks, and the daemon holds (and pins) everything the node made.
 */
export class TieredBlockstore implements Blockstore {
  constructor (private readonly local: Blockstore, private readonly kubo: KuboBlockstore) {}

  async put (cid: CID, value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options?: AbortOptions): Promise<CID> {
    const bytes = await blockBytes(value)
    await this.local.put(cid, bytes, options)
    await this.kubo.put(cid, bytes, options)
    return cid
  }

  async * putMany (source: Iterable<InputPair> | AsyncIterable<InputPair>, options?: AbortOptions): AsyncGenerator<CID> {
    for await (const { cid, bytes } of source) yield await this.put(cid, bytes, options)
  }

  async * get (cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    if (await this.local.has(cid, options)) {
      yield * this.local.get(cid, options)
      return
    }
    const bytes = await blockBytes(this.kubo.get(cid, options))
    await this.local.put(cid, bytes, options)
    yield bytes
  }

  async * getMany (source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const cid of source) yield blockPair(cid, await blockBytes(this.get(cid, options)))
  }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    return await this.local.has(cid, options) || await this.kubo.has(cid, options)
  }

  /** Removes the node's own copy; the daemon's goes with its garbage collector once unpinned. */
  async delete (cid: CID, options?: AbortOptions): Promise<void> {
    await this.local.delete(cid, options)
  }

  async * deleteMany (source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<CID> {
    for await (const cid of source) {
      await this.delete(cid, options)
      yield cid
    }
  }

  getAll (options?: AbortOptions): AsyncGenerator<Pair> {
    return this.local.getAll(options) as AsyncGenerator<Pair>
  }
}

/** A content store with its extra Kubo operations. */
export interface KuboStore extends ContentStore {
  /** The daemon's RPC base URL. */
  readonly url: string
  /** Keeps a CID (recursively) from the daemon's garbage collector. */
  pin: (cid: string, options?: StoreOptions) => Promise<void>
  /** Lets the daemon's garbage collector take a CID again. */
  unpin: (cid: string, options?: StoreOptions) => Promise<void>
}

/**
 * The content store of a Kubo daemon, through kubo-rpc-client: what bac adds is imported by
 * bac's own importer (the CIDs of `ipfs add` with Kubo's defaults, on any daemon config) and sent
 * as CARs; everything it adds, composes, merges or imports is pinned, so the daemon's garbage
 * collector keeps it. Reads go through the daemon, which fetches from the IPFS network what it
 * lacks (within `timeoutMs`).
 */
export function createKuboStore (init: KuboStoreInit & {
  /** The daemon's blocks, when the caller also uses them (a networked node tiers them under its own). */
  kubo?: KuboBlockstore
  /** The blocks the store reads and writes. @default the daemon's (`kubo`) */
  blockstore?: Blockstore
}): KuboStore {
  const blockstore = init.kubo ?? kuboBlockstore(init)
  const { url, client, timeoutMs } = blockstore
  const inner = createUnixfsStore({ blockstore: init.blockstore ?? blockstore })
  /**
   * Pins a CID. Content the daemon may have to find (`bac ipfs pin`) is given `timeoutMs`; what
   * bac has just written there (`local`) is all on the daemon, and a large DAG takes as long as
   * walking it does: only the client's own bound applies.
   */
  const pin = async (cid: string, options: StoreOptions = {}, local = false): Promise<void> => {
    await blockstore.flush(options)
    try {
      await client.pin.add(CID.parse(cid), { recursive: true, signal: options.signal, ...(local ? {} : { timeout: timeoutMs }) })
    } catch (err) {
      if (isTimeout(err)) throw new ContentNotFoundError(cid, `the IPFS daemon at ${url} could not find all of it within ${Math.round(timeoutMs / 1000)} s to pin it`)
      throw explain(err, url, `pin ${cid}`)
    }
  }
  const kept = async (made: Promise<string>, options?: StoreOptions): Promise<string> => {
    const cid = await made
    await pin(cid, options, true)
    return cid
  }
  return {
    ...inner,
    url,
    async start () {
      let version: Record<string, unknown>
      try {
        version = await client.version({ timeout: 10_000 }) as unknown as Record<string, unknown>
      } catch (err) {
        throw explain(err, url, 'say its version')
      }
      checkVersion(version, url)
    },
    async stop () {
      await blockstore.flush()
    },
    addPath: async (target, options) => await kept(inner.addPath(target, options), options),
    addBytes: async (content, options) => await kept(inner.addBytes(content, options), options),
    compose: async (entries, options) => await kept(inner.compose(entries, options), options),
    merge: async (cids, options) => await kept(inner.merge(cids, options), options),
    async importCar (car, options) {
      const roots = await inner.importCar(car, options)
      for (const root of roots) await pin(root, options, true)
      return roots
    },
    async * cat (source, options = {}) {
      await blockstore.flush(options)
      // what the path names is read here (a node or two); anything but a file is left to the
      // shared cat, for its errors (a folder, a bad CID, a missing path): a file's bytes then
      // come from the daemon in one request
      const path = await filePath(source, blockstore, options.signal)
      if (path === undefined) {
        yield * inner.cat(source, options)
        return
      }
      try {
        yield * client.cat(path, { signal: options.signal, timeout: timeoutMs })
      } catch (err) {
        if (options.signal?.aborted === true) throw err
        if (isTimeout(err)) throw new ContentNotFoundError(source, `the IPFS daemon at ${url} could not find all of it within ${Math.round(timeoutMs / 1000)} s`)
        throw explain(err, url, `read ${source}`)
      }
    },
    async list (source, options = {}) {
      await blockstore.flush(options)
      return await inner.list(source, options)
    },
    async * exportCar (source, options = {}) {
      // walked here block by block (each checked) rather than by the daemon's dag export: the
      // same bytes, and it behaves alike on every daemon (the test server's export of a folder stalls)
      await blockstore.flush(options)
      yield * inner.exportCar(source, options)
    },
    pin,
    async unpin (cid, options = {}) {
      try {
        await client.pin.rm(CID.parse(cid), { recursive: true, signal: options.signal })
      } catch (err) {
        if (/not pinned/i.test((err as Error).message ?? '')) return
        throw explain(err, url, `unpin ${cid}`)
      }
    }
  }
}

/** `cid/path` when a content path names a file (one that can be read), else undefined. */
async function filePath (source: string, blockstore: Blockstore, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const { cid, path } = parseContentPath(source)
    const named = path === '' ? cid.toString() : `${cid.toString()}/${path}`
    const entry = await exporter(named, blockstore, { signal })
    return entry.type === 'directory' || entry.type === 'object' ? undefined : named
  } catch {
    return undefined
  }
}

/**
 * Kubo at least MIN_KUBO_VERSION. The development test server (js-ipfs's `ipfs-http-server`,
 * which names itself `ipfs-core`) is accepted too: it answers every call bac makes.
 */
function checkVersion (version: Record<string, unknown>, url: string): void {
  if (typeof version['ipfs-core'] === 'string') return
  const given = String(version.version ?? version.Version ?? '')
  const parts = /^(\d+)\.(\d+)\.(\d+)/.exec(given)
  if (parts === null) throw new IpfsApiError(`the IPFS RPC API at ${url} gives no version bac understands ('${given}'); bac needs Kubo ${MIN_KUBO_VERSION} or later`)
  const [min0, min1, min2] = MIN_KUBO_VERSION.split('.').map(Number) as [number, number, number]
  const [v0, v1, v2] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  const older = v0 < min0 || (v0 === min0 && (v1 < min1 || (v1 === min1 && v2 < min2)))
  if (older) throw new IpfsApiError(`the IPFS daemon at ${url} is Kubo ${given}; bac needs ${MIN_KUBO_VERSION} or later: upgrade it`)
}
