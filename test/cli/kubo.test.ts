import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { create } from 'kubo-rpc-client'
import { BAC_BIN, ROOT } from '../helpers/paths.js'
import { startIpfsRpcServer } from '../helpers/ipfs-rpc-server.js'
import type { CliResult } from '../helpers/cli.js'

// the RPC server runs in this process: the CLI runs as a child that must not block it
async function bacAsync (args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  const { BAC_NODE: _, BAC_IPFS_API: __, ...inherited } = process.env
  const child = spawn(process.execPath, [BAC_BIN, ...args], { cwd: ROOT, env: { ...inherited, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { code, stdout, stderr }
}

const server = await startIpfsRpcServer()
after(async () => { await server.stop() })
const rpc = create({ url: `${server.url}/api/v0` })
const work = mkdtempSync(path.join(tmpdir(), 'bac-cli-kubo-'))
after(() => rmSync(work, { recursive: true, force: true }))

async function pinned (cid: string): Promise<boolean> {
  try {
    for await (const pin of rpc.pin.ls({ paths: [cid] as never })) if (pin.type === 'recursive' || pin.type === 'indirect') return true
  } catch {}
  return false
}

describe('bac with --ipfs-api (a Kubo RPC server)', () => {
  const home = path.join(work, 'home')

  it('adds through the daemon: the CID the embedded store gives, pinned there', async () => {
    const dir = path.join(work, 'folder')
    mkdirSync(path.join(dir, 'sub'), { recursive: true })
    writeFileSync(path.join(dir, 'sub', 'x.txt'), 'x\n')
    const embedded = await bacAsync(['ipfs', 'add', dir, '--data-dir', path.join(work, 'embedded')], {})
    const viaKubo = await bacAsync(['ipfs', 'add', dir, '--ipfs-api', server.url, '--data-dir', home], {})
    assert.equal(viaKubo.code, 0, viaKubo.stderr)
    assert.equal(viaKubo.stdout.trim(), embedded.stdout.trim())
    assert.ok(await pinned(viaKubo.stdout.trim()), 'not pinned in the daemon')
    const cat = await bacAsync(['ipfs', 'cat', `${viaKubo.stdout.trim()}/sub/x.txt`, '--data-dir', path.join(work, 'other-home')], { BAC_IPFS_API: server.url })
    assert.equal(cat.stdout, 'x\n')
    // unpin and pin again, by hand
    const cid = viaKubo.stdout.trim()
    assert.equal((await bacAsync(['ipfs', 'unpin', cid, '--data-dir', home], { BAC_IPFS_API: server.url })).code, 0)
    assert.equal(await pinned(cid), false)
    const pin = await bacAsync(['ipfs', 'pin', cid, '--data-dir', home], { BAC_IPFS_API: server.url })
    assert.equal(pin.code, 0, pin.stderr)
    assert.equal(pin.stderr, `pinned ${cid}\n`)
    assert.equal(await pinned(cid), true)
    const embeddedPin = await bacAsync(['ipfs', 'pin', cid, '--data-dir', path.join(work, 'embedded')], {})
    assert.equal(embeddedPin.code, 1)
    assert.match(embeddedPin.stderr, /^bac: the embedded store keeps all it holds \(it has no garbage collector\), so there is nothing to pin: pinning is for a Kubo daemon \(--ipfs-api\)/)
  })

  it('runs the demo with its content in the daemon, the same result as on the embedded store, and job get writes it out', { timeout: 60_000 }, async () => {
    const embedded = await bacAsync(['run', 'pipelines/sales-report.yml', '--outputs', path.join(work, 'out')], { BAC_HOME: home })
    assert.equal(embedded.code, 0, embedded.stderr)
    // the node config this time: <data dir>/config.json
    writeFileSync(path.join(home, 'config.json'), JSON.stringify({ ipfsApi: server.url }))
    const viaKubo = await bacAsync(['run', 'pipelines/sales-report.yml', '--no-cache', '--outputs', path.join(work, 'out')], { BAC_HOME: home })
    assert.equal(viaKubo.code, 0, viaKubo.stderr)
    const cid = viaKubo.stdout.trim()
    assert.equal(cid, embedded.stdout.trim())
    assert.ok(await pinned(cid), 'the result is not pinned in the daemon')
    const runId = /run ([0-9a-f]+) succeeded/.exec(viaKubo.stderr)?.[1] ?? ''
    const target = path.join(work, 'got')
    const got = await bacAsync(['job', 'get', runId, target], { BAC_HOME: home })
    assert.equal(got.code, 0, got.stderr)
    assert.match(readFileSync(path.join(target, 'aggregate', 'merged', 'summary.csv'), 'utf8'), /^group,Furniture,revenue,/m)
    rmSync(path.join(home, 'config.json'))
  })

  it('says where it looked when the daemon is not running, without a stack trace', async () => {
    const r = await bacAsync(['run', 'pipelines/hello.yml', '--ipfs-api', '/ip4/127.0.0.1/tcp/45999', '--data-dir', path.join(work, 'down')], {})
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^bac: cannot reach the IPFS daemon at http:\/\/127\.0\.0\.1:45999 \(ECONNREFUSED\) to say its version: start it \(ipfs daemon\)/)
    assert.doesNotMatch(r.stderr, /\n\s+at /)
    const bad = await bacAsync(['ipfs', 'add', 'package.json', '--data-dir', path.join(work, 'bad-config')], {})
    assert.equal(bad.code, 0, bad.stderr)
    writeFileSync(path.join(work, 'bad-config', 'config.json'), '{ "ipfsApi": 5001 }')
    const refused = await bacAsync(['ipfs', 'add', 'package.json', '--data-dir', path.join(work, 'bad-config')], {})
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /config\.json: ipfsApi must be the daemon's RPC address/)
    const slow = await bacAsync(['ipfs', 'cat', 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG', '--data-dir', path.join(work, 'timeout')], { BAC_IPFS_API: server.url, BAC_IPFS_TIMEOUT: 'soon' })
    assert.equal(slow.code, 1)
    assert.match(slow.stderr, /^bac: \$BAC_IPFS_TIMEOUT must be a duration such as 30s or 2m, got "soon"/)
    const quick = await bacAsync(
      ['ipfs', 'cat', 'bafkreidkuuhimcrxy7ie7wfhb6iu3kkpu2u2scimbzpgjclc2ha6tjgkoq', '--data-dir', path.join(work, 'timeout')],
      { BAC_IPFS_API: server.url, BAC_IPFS_TIMEOUT: '1s' }
    )
    assert.equal(quick.code, 1)
    assert.match(quick.stderr, /^bac: content bafkreidkuuhimcrxy7ie7wfhb6iu3kkpu2u2scimbzpgjclc2ha6tjgkoq not found: the IPFS daemon at http:\/\/127\.0\.0\.1:\d+ found no copy within 1 s/)
  })
})
