// A development-only IPFS RPC server for the Kubo store's tests: js-ipfs (ipfs-core) with its
// HTTP RPC API (ipfs-http-server), in this process, on 127.0.0.1. No Kubo binary can be installed
// here (its npm package downloads one; Debian has none), and this server answers every RPC call
// the Kubo store makes (version, dag import/export, block get/stat/rm, pin add/rm/ls, cat, add).
// Offline unless asked: then it listens for IPFS peers on loopback only, with no bootstrap nodes,
// so two of them can stand for "the wider IPFS network".
import '../../src/polyfills.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

export interface IpfsRpcServer {
  /** The RPC API's base URL (`http://127.0.0.1:<port>`). */
  readonly url: string
  /** The node's libp2p addresses (online servers only). */
  readonly addrs: string[]
  /** The js-ipfs node itself, to add content behind bac's back. */
  readonly ipfs: { add: (bytes: Uint8Array) => Promise<{ cid: { toString: () => string } }> }
  stop: () => Promise<void>
}

export async function startIpfsRpcServer (options: { online?: boolean } = {}): Promise<IpfsRpcServer> {
  const [{ create }, { HttpApi }] = await Promise.all([import('ipfs-core'), import('ipfs-http-server')])
  const repo = mkdtempSync(path.join(tmpdir(), 'bac-ipfs-rpc-'))
  const online = options.online === true
  const ipfs = await create({
    repo,
    offline: !online,
    start: true,
    silent: true,
    init: { algorithm: 'Ed25519' },
    preload: { enabled: false },
    config: {
      Addresses: { API: '/ip4/127.0.0.1/tcp/0', Swarm: online ? ['/ip4/127.0.0.1/tcp/0'] : [], Gateway: '', Delegates: [] },
      Bootstrap: [],
      Discovery: { MDNS: { Enabled: false }, webRTCStar: { Enabled: false } }
    }
  } as never)
  const api = new HttpApi(ipfs)
  await api.start()
  const info = (api as unknown as { _apiServers: Array<{ info: { uri: string } }> })._apiServers[0]?.info
  if (info === undefined) throw new Error('the IPFS RPC test server did not start its API')
  const addrs = online ? (await ipfs.id()).addresses.map((a: { toString: () => string }) => a.toString()) : []
  return {
    url: info.uri,
    addrs,
    ipfs: {
      add: async (bytes) => await ipfs.add(bytes)
    },
    stop: async () => {
      await api.stop()
      await ipfs.stop()
      rmSync(repo, { recursive: true, force: true })
    }
  }
}
