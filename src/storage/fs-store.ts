import path from 'node:path'
import type { ContentStore } from '../interfaces/content-store.js'
import { PackBlockstore } from './pack-blockstore.js'
import { createUnixfsStore } from './unixfs-store.js'

export interface FsStoreInit {
  /** The node's data dir; blocks go to `<dataDir>/blocks/` (packs and their index). */
  dataDir: string
}

/**
 * The embedded content store: UnixFS (as Kubo writes it) on a pack-file blockstore in the
 * node's data dir (`<dataDir>/blocks/`). No network: nothing here dials out. The networked node (libp2p + bitswap)
 * wraps the same blockstore.
 */
export function createFsStore (init: FsStoreInit): ContentStore {
  const blockstore = new PackBlockstore(path.join(init.dataDir, 'blocks'))
  const store = createUnixfsStore({ blockstore })
  return {
    ...store,
    start: async () => { await blockstore.open() },
    stop: async () => { await blockstore.close() }
  }
}
