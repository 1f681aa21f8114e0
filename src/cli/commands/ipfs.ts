import { UserError } from '../../index.js'
import { EXIT } from '../exit.js'
import type { Io } from '../io.js'
import { withBacNode, withNode, type NodeOptions } from '../node-session.js'

/** `bac ipfs add <path>`: adds a file or folder to the node's store, prints its CID (the one `ipfs add` gives). */
export async function ipfsAddCommand (target: string, options: NodeOptions, io: Io): Promise<number> {
  await withBacNode(options, async (node) => { io.out(`${await node.addContent(target)}\n`) })
  return EXIT.ok
}

/** `bac ipfs cat <cid>`: writes a file's bytes to stdout. */
export async function ipfsCatCommand (cid: string, options: NodeOptions, io: Io & { write?: (chunk: Uint8Array) => void }): Promise<number> {
  await withBacNode(options, async (node) => {
    for await (const chunk of node.catContent(cid)) {
      if (io.write !== undefined) io.write(chunk)
      else process.stdout.write(chunk)
    }
  })
  return EXIT.ok
}

/** `bac ipfs get <cid> <dir>`: writes a file or folder of the node's store out here (the target must not exist). */
export async function ipfsGetCommand (cid: string, target: string, options: NodeOptions, io: Io): Promise<number> {
  await withBacNode(options, async (node) => { await node.getContent(cid, target) })
  io.err(`wrote ${cid} to ${target}\n`)
  return EXIT.ok
}

/** `bac ipfs pin <cid>` / `bac ipfs unpin <cid>`: keeps or lets go of a CID in a Kubo daemon. */
export async function ipfsPinCommand (cid: string, keep: boolean, options: { dataDir?: string, ipfsApi?: string }, io: Io): Promise<number> {
  await withNode(options, async (node) => {
    const act = keep ? node.store.pin : node.store.unpin
    if (act === undefined) {
      throw new UserError(`the embedded store keeps all it holds (it has no garbage collector), so there is nothing to ${keep ? 'pin' : 'unpin'}: ` +
        `pinning is for a Kubo daemon (--ipfs-api)`)
    }
    await act(cid)
  })
  io.err(`${keep ? 'pinned' : 'unpinned'} ${cid}\n`)
  return EXIT.ok
}
