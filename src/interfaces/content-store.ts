/** What a CID holds. Sizes are the bytes of file content (for a folder, of all its files). */
export interface ContentStat {
  readonly cid: string
  readonly type: 'file' | 'directory'
  readonly size: number
}

/** One entry of a folder: its name, and what it is. */
export interface ContentEntry extends ContentStat {
  readonly name: string
}

export interface StoreOptions {
  readonly signal?: AbortSignal
}

/**
 * The folders a caller may name: real paths (links resolved) inside one of `roots` and inside none
 * of `except` (what lies there is the node's own, such as its data dir, even when a root holds it).
 */
export interface PathScope {
  readonly roots: readonly string[]
  readonly except?: readonly string[]
  /** Refuse a path with a hidden part below its root (`.git`, `.env`, `.ssh`): such files are rarely meant to be shared. */
  readonly noHidden?: boolean
}

export interface AddPathOptions extends StoreOptions {
  /**
   * Real folders (symbolic links resolved) that everything read must lie in: each folder before
   * it is listed and each file as it was opened (its descriptor, not its path) is checked, so a
   * link swapped in meanwhile is not followed out. Anything else rejects with
   * `PathNotAllowedError`. Unset: no such limit (a user's own command).
   */
  readonly within?: PathScope
}

export interface GetOptions extends StoreOptions {
  /** Files and folders written out at most: more is refused before anything is written. @default 1,000,000 */
  readonly maxEntries?: number
  /** Bytes of file content written out at most, likewise (the free disk space bounds it too). @default 1 TiB */
  readonly maxBytes?: number
}

/**
 * Content-addressed storage: the embedded Helia store, or a Kubo daemon. CIDs are strings; by
 * default they are those `ipfs add` gives with Kubo's defaults (CIDv0, 256 KiB chunks, balanced
 * DAG of 174 links, no raw leaves). One compliance suite (test/storage) tests every store.
 */
export interface ContentStore {
  start: () => Promise<void>
  stop: () => Promise<void>
  /**
   * Adds a file or a folder (recursively; symbolic links inside a folder, FIFOs, sockets and
   * devices are refused with a clear error, without being opened) and returns its CID.
   */
  addPath: (path: string, options?: AddPathOptions) => Promise<string>
  /** Adds bytes as a file and returns its CID. */
  addBytes: (content: Uint8Array | AsyncIterable<Uint8Array>, options?: StoreOptions) => Promise<string>
  /** The bytes of a file (`cid` or `cid/sub/path`). */
  cat: (cid: string, options?: StoreOptions) => AsyncIterable<Uint8Array>
  /**
   * Writes a file or folder to `target` (which must not exist), atomically. Nothing in the DAG is
   * trusted: names that are not one plain path segment, duplicate names, symbolic links, nodes
   * that are not UnixFS files or folders, a DAG nested deeper than 256 levels or expanding past
   * `maxEntries`/`maxBytes` or the free disk space reject with `UnsafeContentError` (or
   * `DiskSpaceError`) before anything is written; file contents are checked as they are written,
   * and nothing is left at `target` when it fails.
   */
  get: (cid: string, target: string, options?: GetOptions) => Promise<void>
  stat: (cid: string, options?: StoreOptions) => Promise<ContentStat>
  /**
   * The entries of a folder (`cid` or `cid/path`), in the folder's order, at most `limit` (a
   * file's size is its bytes; a sub-folder's is not counted, 0). A file is a `UserError`.
   */
  list: (cid: string, options?: StoreOptions & { readonly limit?: number }) => Promise<ContentEntry[]>
  /**
   * Builds a folder from stored content without copying bytes: `{ 'extract/node-1': cid }` makes
   * a folder holding `extract/node-1` (a file or folder). Returns the new folder's CID, the same
   * one adding an equal folder from disk gives.
   */
  compose: (entries: Readonly<Record<string, string>>, options?: StoreOptions) => Promise<string>
  /**
   * Merges folders into one: what only one holds is taken as it is, a path they hold alike is
   * kept once, and a path they hold differently rejects with `MergeClashError` naming it.
   */
  merge: (cids: readonly string[], options?: StoreOptions) => Promise<string>
  /**
   * Every block of a file or folder as a CAR v1 stream rooted at it (`ipfs dag export`): how
   * content leaves a node whole, e.g. over the HTTP API.
   */
  exportCar: (cid: string, options?: StoreOptions) => AsyncIterable<Uint8Array>
  /**
   * Stores the blocks of a CAR v1 stream (`ipfs dag import`), each checked against its CID;
   * returns the CAR's roots. A block that does not match rejects with `UnsafeContentError`.
   */
  importCar: (car: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options?: StoreOptions) => Promise<string[]>
  /** Whether the root block of a CID is in the store. */
  has: (cid: string, options?: StoreOptions) => Promise<boolean>
  /**
   * Keeps a CID (recursively) from the store's garbage collector, fetching what it lacks; for
   * stores that have one (a Kubo daemon). The embedded store keeps everything and has none.
   */
  pin?: (cid: string, options?: StoreOptions) => Promise<void>
  /** Lets the store's garbage collector take a CID again. */
  unpin?: (cid: string, options?: StoreOptions) => Promise<void>
}
