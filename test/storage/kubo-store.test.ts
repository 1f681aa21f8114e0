import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { create } from 'kubo-rpc-client'
import { createFsStore } from '../../src/storage/index.js'
import { createKuboStore, ipfsApiUrl } from '../../src/storage/kubo-store.js'
import { startIpfsRpcServer } from '../helpers/ipfs-rpc-server.js'
import { contentStoreCompliance } from './compliance.js'
import { hostileDagCompliance } from './hostile-dags.js'

const server = await startIpfsRpcServer()
after(async () => { await server.stop() })
// the tests below collect garbage: on a daemon of their own, for js-ipfs's collector walks every
// pinned DAG without noting what it saw, and the hostile DAGs the suites above pin (a folder that
// names another thousands of times) took it minutes; Kubo's marks each block once
const daemon = await startIpfsRpcServer()
after(async () => { await daemon.stop() })

// a short timeout: the suite asks for content that is nowhere, which a daemon searches for until then
contentStoreCompliance('Kubo RPC (kubo-rpc-client against a real RPC server)', () => createKuboStore({ api: server.url, timeoutMs: 1500 }))
hostileDagCompliance('Kubo RPC (kubo-rpc-client against a real RPC server)', () => createKuboStore({ api: server.url, timeoutMs: 1500 }))

const work = mkdtempSync(path.join(tmpdir(), 'bac-kubo-store-'))
after(() => rmSync(work, { recursive: true, force: true }))

async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of source) chunks.push(chunk)
  return Buffer.concat(chunks)
}

describe('Kubo store', () => {
  const store = createKuboStore({ api: daemon.url })
  const rpc = create({ url: `${daemon.url}/api/v0` })
  before(async () => { await store.start() })
  after(async () => { await store.stop() })

  it('gives the CIDs the embedded store gives, for files and folders', async () => {
    const dir = path.join(work, 'same')
    writeFileSync(path.join(work, 'big.bin'), randomBytes(3 * 262144 + 17))
    const embedded = createFsStore({ dataDir: path.join(work, 'embedded') })
    await embedded.start()
    try {
      const { mkdirSync } = await import('node:fs')
      mkdirSync(path.join(dir, 'sub'), { recursive: true })
      writeFileSync(path.join(dir, 'a.txt'), 'a\n')
      writeFileSync(path.join(dir, 'sub', 'b.bin'), randomBytes(300_000))
      assert.equal(await store.addPath(dir), await embedded.addPath(dir))
      assert.equal(await store.addPath(path.join(work, 'big.bin')), await embedded.addPath(path.join(work, 'big.bin')))
    } finally {
      await embedded.stop()
    }
  })

  it('pins what it adds, composes and imports, so the daemon\'s garbage collector keeps it; unpin lets go', async () => {
    const file = await store.addBytes(new TextEncoder().encode(`pinned ${Date.now()}\n`))
    const folder = await store.compose({ 'x/file.txt': file })
    const pinned = async (cid: string): Promise<string[]> => {
      const types: string[] = []
      try {
        for await (const pin of rpc.pin.ls({ paths: [cid] as never })) types.push(pin.type)
      } catch (err) {
        if (!/not pinned/i.test((err as Error).message)) throw err
      }
      return types
    }
    assert.deepEqual(await pinned(file), ['recursive'])
    assert.deepEqual(await pinned(folder), ['recursive'])
    await store.unpin(folder)
    assert.deepEqual(await pinned(folder), [])
    await store.unpin(folder) // unpinning what is not pinned is no error
  })

  it('keeps what it added through the daemon\'s garbage collection, until unpinned', async () => {
    const bytes = randomBytes(400_000)
    const cid = await store.addBytes(bytes)
    for await (const _ of rpc.repo.gc()) { /* collects what no pin holds */ }
    assert.deepEqual(await collect(store.cat(cid)), bytes)
    await store.unpin(cid)
    for await (const _ of rpc.repo.gc()) { /* now it may go */ }
    assert.equal(await store.has(cid), false)
  })

  it('reads what the daemon got from elsewhere: a CID bac never added', async () => {
    const bytes = randomBytes(600_000)
    const { cid } = await daemon.ipfs.add(bytes)
    assert.deepEqual(await collect(store.cat(cid.toString())), bytes)
    const target = path.join(work, 'got-elsewhere')
    await store.get(cid.toString(), target)
    const { readFileSync } = await import('node:fs')
    assert.deepEqual(readFileSync(target), bytes)
  })

  it('says clearly when a CID cannot be found before the timeout', async () => {
    const impatient = createKuboStore({ api: daemon.url, timeoutMs: 300 })
    const missing = 'bafkreidkuuhimcrxy7ie7wfhb6iu3kkpu2u2scimbzpgjclc2ha6tjgkoq'
    await assert.rejects(collect(impatient.cat(missing)),
      /content bafkreidkuuhimcrxy7ie7wfhb6iu3kkpu2u2scimbzpgjclc2ha6tjgkoq not found: the IPFS daemon at http:\/\/127\.0\.0\.1:\d+ found no copy within 0 s/)
    assert.equal(await impatient.has(missing), false)
  })
})

describe('Kubo store: a daemon that is not there, or not a daemon', () => {
  it('names the address it tried when nothing listens there', async () => {
    // a port that was free a moment ago
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as { port: number }).port
    await new Promise((resolve) => probe.close(resolve))
    const store = createKuboStore({ api: `/ip4/127.0.0.1/tcp/${port}` })
    const unreachable = `cannot reach the IPFS daemon at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\) to say its version: start it \\(ipfs daemon\\) or point --ipfs-api`
    await assert.rejects(store.start(), new RegExp(unreachable))
  })

  it('tells an RPC API from something else answering HTTP', async () => {
    const other = createServer((req, res) => { res.writeHead(404).end('no such page') })
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    try {
      const port = (other.address() as { port: number }).port
      await assert.rejects(createKuboStore({ api: `http://127.0.0.1:${port}` }).start(), new RegExp(`http://127\\.0\\.0\\.1:${port} is not an IPFS RPC API \\(HTTP 404`))
    } finally {
      other.close()
    }
  })

  it('refuses a Kubo older than it supports, and takes the addresses users write', async () => {
    const old = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Version: '0.9.1', Commit: '', Repo: '11', System: 'amd64/linux', Golang: 'go1.16' }))
    })
    await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve))
    try {
      const port = (old.address() as { port: number }).port
      await assert.rejects(createKuboStore({ api: `/ip4/127.0.0.1/tcp/${port}` }).start(), /is Kubo 0\.9\.1; bac needs 0\.18\.0 or later: upgrade it/)
    } finally {
      old.close()
    }
    assert.equal(ipfsApiUrl('/ip4/10.0.0.1/tcp/5001'), 'http://10.0.0.1:5001')
    assert.equal(ipfsApiUrl('/dns4/ipfs.local/tcp/5001/https'), 'https://ipfs.local:5001')
    assert.equal(ipfsApiUrl('http://127.0.0.1:5001/api/v0'), 'http://127.0.0.1:5001')
    assert.throws(() => ipfsApiUrl('/ip4/1.2.3.4/udp/5001'), /not an address bac can use/)
  })
})
