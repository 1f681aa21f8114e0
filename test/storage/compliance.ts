import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { ContentStore } from '../../src/interfaces/content-store.js'

async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of source) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** Every file under a folder, relative path to content; folders end with '/'. */
function snapshot (dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name)
    const relative = path.relative(dir, full)
    out[entry.isDirectory() ? `${relative}/` : relative] = entry.isDirectory() ? '' : readFileSync(full).toString('base64')
  }
  return out
}

/**
 * A store under test in the describe block it is called in: made in a fresh temp folder
 * (`<root>/data`), started before its tests and stopped, with the folder removed, after them.
 */
export function storeUnderTest (prefix: string, create: (dataDir: string) => ContentStore): { root: string, store: ContentStore } {
  const root = mkdtempSync(path.join(tmpdir(), prefix))
  const store = create(path.join(root, 'data'))
  before(async () => { await store.start() })
  after(async () => {
    await store.stop()
    rmSync(root, { recursive: true, force: true })
  })
  return { root, store }
}

/**
 * The content-store compliance suite: the embedded store and the Kubo store must both pass it.
 * `create` gets a fresh temp folder to keep its data in.
 */
export function contentStoreCompliance (name: string, create: (dataDir: string) => ContentStore): void {
  describe(`content store compliance: ${name}`, () => {
    const { root, store } = storeUnderTest(`bac-store-${name}-`, create)
    let n = 0
    const fresh = (): string => path.join(root, `case-${n++}`)

    it('adds bytes and reads them back, small and multi-chunk', async () => {
      for (const size of [0, 5, 262_144, 1_000_003]) {
        const bytes = randomBytes(size)
        const cid = await store.addBytes(bytes)
        assert.deepEqual(await collect(store.cat(cid)), bytes)
        assert.equal(await store.has(cid), true)
        assert.deepEqual(await store.stat(cid), { cid, type: 'file', size })
      }
    })

    it('gives a file the same CID however it is added', async () => {
      const file = `${fresh()}.bin`
      writeFileSync(file, randomBytes(300_000))
      const fromPath = await store.addPath(file)
      assert.equal(await store.addBytes(readFileSync(file)), fromPath)
      async function * stream (): AsyncIterable<Uint8Array> { const b = readFileSync(file); for (let i = 0; i < b.length; i += 7000) yield b.subarray(i, i + 7000) }
      assert.equal(await store.addBytes(stream()), fromPath)
    })

    it('adds a folder and writes it back identical: nesting, empty folders, hidden and odd names', async () => {
      const dir = fresh()
      mkdirSync(path.join(dir, 'a', 'b'), { recursive: true })
      mkdirSync(path.join(dir, 'empty'))
      writeFileSync(path.join(dir, 'top.txt'), 'top\n')
      writeFileSync(path.join(dir, '.hidden'), 'h')
      writeFileSync(path.join(dir, 'a', 'b', 'deep.bin'), randomBytes(700_000))
      writeFileSync(path.join(dir, 'a', 'ünï cødé & spaces.csv'), 'x,y\n1,2\n')
      const cid = await store.addPath(dir)
      const stat = await store.stat(cid)
      assert.equal(stat.type, 'directory')
      assert.equal(stat.size, 4 + 1 + 700_000 + 8)
      const out = path.join(fresh(), 'copy')
      await store.get(cid, out)
      assert.deepEqual(snapshot(out), snapshot(dir))
      assert.equal(await store.addPath(out), cid, 'the copy has the same CID')
      assert.equal((await collect(store.cat(`${cid}/a/b/deep.bin`))).length, 700_000)
      assert.deepEqual(await collect(store.cat(`/ipfs/${cid}/top.txt`)), Buffer.from('top\n'))
      const sub = path.join(fresh(), 'sub')
      await store.get(`${cid}/a`, sub)
      assert.deepEqual(Object.keys(snapshot(sub)).sort(), ['b/', 'b/deep.bin', 'ünï cødé & spaces.csv'])
    })

    it('composes a folder from stored content, equal to adding the same folder from disk', async () => {
      const dir = fresh()
      mkdirSync(path.join(dir, 'extract', 'node-1'), { recursive: true })
      mkdirSync(path.join(dir, 'aggregate'), { recursive: true })
      writeFileSync(path.join(dir, 'extract', 'node-1', 'a.csv'), 'a\n')
      writeFileSync(path.join(dir, 'aggregate', 'summary.json'), '{}\n')
      const expected = await store.addPath(dir)
      const nodeOutputs = await store.addPath(path.join(dir, 'extract', 'node-1'))
      const summary = await store.addBytes(Buffer.from('{}\n'))
      const composed = await store.compose({ 'extract/node-1': nodeOutputs, 'aggregate/summary.json': summary })
      assert.equal(composed, expected)
      assert.deepEqual(await collect(store.cat(`${composed}/extract/node-1/a.csv`)), Buffer.from('a\n'))
      await assert.rejects(store.compose({ a: summary, 'a/b': summary }), /both as content and as a folder/)
    })

    it('composes a folder of 300 entries, files and folders, equal to the folder added from disk', async () => {
      const dir = fresh()
      const entries: Record<string, string> = {}
      for (let i = 0; i < 300; i++) {
        const name = `step-${String(i).padStart(3, '0')}`
        mkdirSync(path.join(dir, name, 'node'), { recursive: true })
        writeFileSync(path.join(dir, name, 'node', 'out.txt'), randomBytes(i * 97))
        entries[`${name}/node`] = await store.addPath(path.join(dir, name, 'node'))
      }
      assert.equal(await store.compose(entries), await store.addPath(dir))
    })

    it('refuses folders holding symbolic links, storing nothing for them', async () => {
      const dir = fresh()
      mkdirSync(dir)
      writeFileSync(path.join(dir, 'ok.txt'), 'ok')
      symlinkSync('/etc/passwd', path.join(dir, 'link'))
      await assert.rejects(store.addPath(dir), (err: Error) => err.name === 'UnsafeContentError' && /symbolic link/.test(err.message))
    })

    it('never writes into a target that exists, nor leaves a partial copy', async () => {
      const cid = await store.addBytes(Buffer.from('x'))
      const target = fresh()
      mkdirSync(target)
      await assert.rejects(store.get(cid, target), /already exists/)
      const missing = 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'
      const out = path.join(fresh(), 'never')
      await assert.rejects(store.get(missing, out), (err: Error) => err.name === 'ContentNotFoundError')
      assert.equal(existsSync(out), false)
      assert.ok(!existsSync(path.dirname(out)) || readdirSync(path.dirname(out)).length === 0)
    })

    it('reports missing content and bad CIDs clearly', async () => {
      const missing = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
      assert.equal(await store.has(missing), false)
      await assert.rejects(collect(store.cat(missing)), (err: Error) => err.name === 'ContentNotFoundError' && err.message.includes(missing))
      await assert.rejects(store.stat(missing), (err: Error) => err.name === 'ContentNotFoundError')
      await assert.rejects(collect(store.cat('QmNotACid')), (err: Error) => err.name === 'InvalidCidError')
      const cid = await store.addPath(path.join(import.meta.dirname, '..', 'fixtures', 'executors'))
      await assert.rejects(collect(store.cat(cid)), (err: Error) => err.name === 'UnsafeContentError' && /folder/.test(err.message))
      await assert.rejects(collect(store.cat(`${cid}/no-such-file`)), (err: Error) => err.name === 'ContentNotFoundError')
    })

    it('exports a folder as a CAR that another store imports whole, and refuses a CAR with a tampered block', async () => {
      const dir = fresh()
      mkdirSync(path.join(dir, 'sub', 'deeper'), { recursive: true })
      writeFileSync(path.join(dir, 'big.bin'), randomBytes(700_000))
      writeFileSync(path.join(dir, 'sub', 'a.txt'), 'alpha\n')
      writeFileSync(path.join(dir, 'sub', 'deeper', 'b.txt'), 'beta\n')
      const cid = await store.addPath(dir)
      const car = await collect(store.exportCar(cid))
      const other = create(path.join(root, `other-${n++}`))
      await other.start()
      try {
        assert.deepEqual(await other.importCar([car]), [cid])
        const out = fresh()
        await other.get(cid, out)
        assert.deepEqual(snapshot(out), snapshot(dir))
        // a sub-path exports only its own blocks
        const sub = await collect(store.exportCar(`${cid}/sub`))
        assert.ok(sub.length < 1000)
        // one flipped byte in the last block's data: refused, named by its CID
        const bad = Buffer.from(car)
        bad[bad.length - 2] = (bad[bad.length - 2] as number) ^ 0xff
        const third = create(path.join(root, `other-${n++}`))
        await third.start()
        await assert.rejects(third.importCar([bad]), (err: Error) => err.name === 'UnsafeContentError' && /does not hash to its CID/.test(err.message))
        await third.stop()
        await assert.rejects(other.importCar([Buffer.from('not a car')]), (err: Error) => err.name === 'UnsafeContentError' && /CAR/.test(err.message))
      } finally {
        await other.stop()
      }
      // a missing root fails before the CAR's first byte, so the HTTP API can answer 404
      const first = store.exportCar('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')[Symbol.asyncIterator]().next()
      await assert.rejects(first, (err: Error) => err.name === 'ContentNotFoundError')
    })

    it('stops adding when aborted', async () => {
      async function * endless (): AsyncIterable<Uint8Array> { for (;;) { yield randomBytes(65_536); await new Promise((resolve) => setImmediate(resolve)) } }
      const controller = new AbortController()
      setTimeout(() => { controller.abort() }, 100)
      await assert.rejects(store.addBytes(endless(), { signal: controller.signal }))
    })
  })
}
