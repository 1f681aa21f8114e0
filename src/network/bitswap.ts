import { withBitswap } from '@helia/bitswap'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import type { Libp2p } from '@libp2p/interface'
import { MemoryDatastore } from 'datastore-core'
import { createHeliaLight } from 'helia'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { ContentNotFoundError } from '../interfaces/errors.js'
import { guardProtocols } from './guard.js'

/** Bitswap's protocols: only trusted peers may use them with this node. */
const BITSWAP_PROTOCOLS = ['/ipfs/bitswap/1.2.0', '/ipfs/bitswap/1.1.0', '/ipfs/bitswap/1.0.0', '/ipfs/bitswap']

export interface BitswapInit {
  /** The node's own blocks: bitswap serves them, and puts what it fetches there. */
  readonly blockstore: Blockstore
  /** Why a peer may not use bitswap with this node (undefined: it may). */
  readonly refuse: (peer: string, addr: import('@multiformats/multiaddr').Multiaddr | undefined) => string | undefined
  /** How long a block missing here is looked for on peers. */
  readonly blockTimeoutMs: number
  readonly log?: (line: string) => void
}

export interface Bitswap {
  /** The node's blocks, with those it lacks looked for on its peers for a while, then reported missing. */
  readonly blockstore: Blockstore
  stop: () => Promise<void>
}

/**
 * Helia with bitswap on the node's libp2p host. Helia's light build has no host of its own; the
 * host is set on it before it starts, as Helia's libp2p mixin does, but seen through a guard:
 * bitswap has no notion of trust, so the guard lets it answer and ask trusted peers only.
 */
export async function startBitswap (libp2p: Libp2p, init: BitswapInit): Promise<Bitswap> {
  const light = createHeliaLight({ blockstore: init.blockstore, datastore: new MemoryDatastore() })
  // the light build's type has no libp2p field; withBitswap reads the one set just below
  const helia = withBitswap(light as unknown as HeliaWithLibp2p, { maxSizeReplaceHasWithBlock: 1024 * 1024, sendWantlistDebounce: 0 })
  const guarded = guardProtocols(libp2p, { protocols: BITSWAP_PROTOCOLS, refuse: init.refuse, ...(init.log !== undefined ? { log: init.log } : {}) })
  Object.defineProperty(helia, 'libp2p', { value: guarded, enumerable: true })
  await helia.start()
  const networked: Blockstore = helia.blockstore
  const blockstore: Blockstore = Object.create(networked, {
    get: {
      value: async function * (cid: CID, options: { signal?: AbortSignal } = {}) {
        if (await init.blockstore.has(cid)) {
          yield * init.blockstore.get(cid, options)
          return
        }
        const timeout = AbortSignal.timeout(init.blockTimeoutMs)
        const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
        try {
          yield * networked.get(cid, { ...options, signal })
        } catch (err) {
          if (timeout.aborted && options.signal?.aborted !== true) {
            throw new ContentNotFoundError(cid.toString(), `it is not in the local store, and no peer sent it within ${init.blockTimeoutMs} ms`)
          }
          throw err
        }
      }
    }
  }) as Blockstore
  return { blockstore, stop: async () => { await helia.stop() } }
}
