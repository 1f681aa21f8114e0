// bench/kubo: 100 MB added, read back (cat) and written out (get) through the Kubo store (kubo-rpc-client against an IPFS
// RPC server) next to the embedded store, in the same run; and, as the RPC path's own baseline,
// the same bytes through kubo-rpc-client's add and cat (the server chunking and hashing them).
// The RPC server is js-ipfs's (ipfs-core with ipfs-http-server, a development dependency) in
// this process, offline, on 127.0.0.1: no Kubo binary can be installed here.
import { benchDir } from './work-dir.mjs'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
await import(path.join(ROOT, 'dist', 'polyfills.js'))
const { createFsStore } = await import(path.join(ROOT, 'dist', 'storage', 'index.js'))
const { createKuboStore } = await import(path.join(ROOT, 'dist', 'storage', 'kubo-store.js'))
const { create: createIpfs } = await import('ipfs-core')
const { HttpApi } = await import('ipfs-http-server')
const { create: createClient } = await import('kubo-rpc-client')

const SIZE = 100 * 1024 * 1024
const work = benchDir('bac-bench-kubo')
const ipfs = await createIpfs({
  repo: mkdtempSync(path.join(work, 'repo-')), offline: true, start: true, silent: true, init: { algorithm: 'Ed25519' }, preload: { enabled: false },
  config: { Addresses: { API: '/ip4/127.0.0.1/tcp/0', Swarm: [], Gateway: '', Delegates: [] }, Bootstrap: [], Discovery: { MDNS: { Enabled: false }, webRTCStar: { Enabled: false } } }
})
const api = new HttpApi(ipfs)
await api.start()
const url = api._apiServers[0].info.uri

async function drain (source) {
  let n = 0
  for await (const chunk of source) n += chunk.length
  return n
}
const mbps = (ms) => (SIZE / 1024 / 1024 / (ms / 1000)).toFixed(0)

async function measure (name, add, cat, get) {
  const bytes = randomBytes(SIZE)
  let start = performance.now()
  const cid = await add(bytes)
  const addMs = performance.now() - start
  start = performance.now()
  const read = await drain(cat(cid))
  const catMs = performance.now() - start
  if (read !== SIZE) throw new Error(`${name}: read ${read} bytes of ${SIZE}`)
  let getMs
  if (get !== undefined) {
    start = performance.now()
    await get(cid, path.join(work, `got-${name.replace(/\W/g, '')}`))
    getMs = performance.now() - start
  }
  return { name, addMs, catMs, getMs }
}

try {
  const embedded = createFsStore({ dataDir: path.join(work, 'embedded') })
  await embedded.start()
  const kubo = createKuboStore({ api: url })
  await kubo.start()
  const client = createClient({ url: `${url}/api/v0` })
  const rows = []
  rows.push(await measure('embedded store', (b) => embedded.addBytes(b), (cid) => embedded.cat(cid), (cid, t) => embedded.get(cid, t)))
  rows.push(await measure('Kubo store (RPC)', (b) => kubo.addBytes(b), (cid) => kubo.cat(cid), (cid, t) => kubo.get(cid, t)))
  rows.push(await measure('kubo-rpc-client add/cat', async (b) => (await client.add(b, { cidVersion: 0, rawLeaves: false, pin: true })).cid.toString(), (cid) => client.cat(cid)))
  const base = rows[0]
  for (const r of rows) {
    console.log(`${r.name.padEnd(26)} add 100 MB: ${r.addMs.toFixed(0).padStart(5)} ms (${mbps(r.addMs).padStart(4)} MB/s, ${(r.addMs / base.addMs).toFixed(2)}x the embedded store)   cat: ${r.catMs.toFixed(0).padStart(5)} ms (${mbps(r.catMs).padStart(4)} MB/s, ${(r.catMs / base.catMs).toFixed(2)}x)${r.getMs !== undefined ? `   get: ${r.getMs.toFixed(0).padStart(5)} ms (${mbps(r.getMs).padStart(4)} MB/s, ${(r.getMs / base.getMs).toFixed(2)}x)` : ''}`)
  }
  await kubo.stop()
  await embedded.stop()
} finally {
  await api.stop()
  await ipfs.stop()
}
