import path from 'node:path'
import type { ContentStore } from '../interfaces/content-store.js'
import { BlockFiles } from './block-files.js'
import { createUnixfsStore } from './unixfs-store.js'

export interface FsStoreInit {
  /** The node's data dir; blocks go to `<dataDir>/blocks`. */
  dataDir: string
}

/**
 * The embedded content store: UnixFS (as Kubo writes it) on a filesystem blockstore in the
 * node's data dir. No network: nothing here dials out. The networked node (libp2p + bitswap)
 * wraps the same blockstore.
 */
export function createFsStore (init: FsStoreInit): ContentStore {
  const blockstore = new BlockFiles(path.join(init.dataDir, 'blocks'))
  const store = createUnixfsStore({ blockstore })
  return {
    ...store,
    start: async () => { await blockstore.open() },
    stop: async () => { await blockstore.close() }
  }
}
