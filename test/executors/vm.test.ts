import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { createVmExecutor, ImageStore } from '../../src/executors/index.js'
import type { ExecutionSpec } from '../../src/interfaces/executor.js'
import { linkImages } from '../helpers/images.js'
import { IMAGES } from '../helpers/paths.js'
import { processesWith } from '../helpers/processes.js'
import { executorCompliance } from './compliance.js'

/** A step's log; a stream it never wrote to has no file, which reads as empty. */
function readLog (dir: string, stream: 'stdout' | 'stderr'): string {
  const file = path.join(dir, `${stream}.log`)
  return existsSync(file) ? readFileSync(file, 'utf8') : ''
}

/** A shell step whose folders are under `base`. */
function shellSpec (base: string, script: string): ExecutionSpec {
  return {
    action: { kind: 'shell', shell: 'sh', script },
    env: {},
    inputs: {},
    outputsDir: path.join(base, 'outputs'),
    workDir: path.join(base, 'work'),
    logsDir: path.join(base, 'logs')
  }
}

executorCompliance('vm', (init) => createVmExecutor({ ...init, imagesDir: IMAGES }))

describe('vm executor: isolation and machine', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bac-vm-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  const executor = createVmExecutor({ imagesDir: IMAGES, killGraceMs: 300 })
  let n = 0

  async function sh (script: string, extra: Partial<ExecutionSpec> = {}): Promise<{ code: number | null, out: string, err: string, error?: string, base: string }> {
    const base = path.join(dir, `case-${n++}`)
    const data = path.join(base, 'data')
    mkdirSync(data, { recursive: true })
    writeFileSync(path.join(data, 'in.txt'), 'stored content\n')
    const spec: ExecutionSpec = {
      action: { kind: 'shell', shell: 'sh', script },
      env: {},
      inputs: { data, single: path.join(data, 'in.txt') },
      cids: { QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG: data },
      outputsDir: path.join(base, 'outputs'),
      workDir: path.join(base, 'work'),
      logsDir: path.join(base, 'logs'),
      ...extra
    }
    const r = await executor.execute(spec)
    return { code: r.exitCode, out: readLog(spec.logsDir, 'stdout'), err: readLog(spec.logsDir, 'stderr'), ...(r.error !== undefined ? { error: r.error } : {}), base }
  }

  it('mounts inputs read-only, even for root, at /inputs/<name> and /ipfs/<cid>; a file input is a file', async () => {
    const r = await sh('id -u; cat /inputs/data/in.txt /ipfs/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG/in.txt /inputs/single; ' +
      'echo changed > /inputs/data/in.txt || echo refused; rm /ipfs/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG/in.txt || echo refused')
    assert.equal(r.out, '0\nstored content\nstored content\nstored content\nrefused\nrefused\n')
    assert.match(r.err, /Read-only file system/)
    assert.equal(readFileSync(path.join(r.base, 'data', 'in.txt'), 'utf8'), 'stored content\n')
  })

  it('gives private writable copies of /ipfs/<cid> with writableCids, kept in the outputs', async () => {
    const cid = 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'
    const r = await sh(`echo more >> /ipfs/${cid}/in.txt && cat /ipfs/${cid}/in.txt`, { writableCids: true })
    assert.equal(r.out, 'stored content\nmore\n', r.err)
    assert.equal(readFileSync(path.join(r.base, 'outputs', 'ipfs', cid, 'in.txt'), 'utf8'), 'stored content\nmore\n')
    assert.equal(readFileSync(path.join(r.base, 'data', 'in.txt'), 'utf8'), 'stored content\n')
  })

  it('cannot see the host\'s files outside its mounts', async () => {
    const secret = `host-secret-${process.pid}-${Date.now()}`
    writeFileSync(path.join(dir, secret), 'x')
    const r = await sh(`find / -name '${secret}*' 2>/dev/null | grep -v '^/proc' ; ls /inputs; echo end`)
    assert.equal(r.out, 'data\nsingle\nend\n')
  })

  it('has no network device by default', async () => {
    const r = await sh('ls /sys/class/net')
    assert.equal(r.out.trim(), 'lo')
  })

  it('has a working network with resources.network', async () => {
    const server = createServer((socket) => { socket.end('hello from the host\n') })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as { port: number }).port
      const r = await sh(`ls /sys/class/net | tr '\\n' ' '; echo; nc 10.0.2.2 ${port} < /dev/null`, { resources: { network: true } })
      assert.equal(r.out, `eth0 lo \nhello from the host\n`, r.err + (r.error ?? ''))
    } finally {
      server.close()
    }
  })

  it('gives the CPUs the step asks for, and kills and reports a step that fills its memory', async () => {
    const r = await sh('nproc; x=$(head -c 400000000 /dev/zero | tr "\\0" x); echo survived', { resources: { cpus: 2, memoryBytes: 128 * 1024 * 1024 } })
    assert.equal(r.out, '2\n')
    assert.match(r.error ?? '', /ran out of memory \(128 MiB; raise resources\.memory\)/)
    // the guest kernel's account of it is kept beside the step's logs
    assert.match(readFileSync(path.join(r.base, 'logs', 'console.log'), 'utf8'), /Out of memory: Killed process/)
  })

  it('starts each VM with the host\'s clock and random bytes of its own, though all start from one saved state (8 at once, the CPUs busy)', async () => {
    // two processes keep the CPUs busy, as a loaded machine would: the reseed must not depend on timing
    const spinners = [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }))
    try {
      const before = Math.floor(Date.now() / 1000) - 1
      const script = 'date +%s; head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n"; echo; cat /proc/sys/kernel/random/uuid'
      const runs = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(async () => await sh(script)))
      const end = Math.ceil(Date.now() / 1000) + 1
      // the saved state is older than this test: a guest on its clock would read a time before it
      for (const r of runs) {
        assert.equal(r.code, 0, r.error ?? r.err)
        const guest = Number(r.out.split('\n')[0])
        assert.ok(guest >= before && guest <= end, `the guest's clock is off: ${guest} is not within ${before}..${end}`)
      }
      assert.equal(new Set(runs.map((r) => r.out.split('\n')[1])).size, 8, runs.map((r) => r.out).join(' | '))
      assert.equal(new Set(runs.map((r) => r.out.split('\n')[2])).size, 8, runs.map((r) => r.out).join(' | '))
    } finally {
      for (const spinner of spinners) spinner.kill('SIGKILL')
    }
  })

  it('writes as the step wrote, and nothing of the guest survives it', async () => {
    const first = await sh('echo kept > /outputs/a; echo lost > /etc/added; mkdir -p /work/w && echo w > /work/w/f')
    assert.equal(first.code, 0, first.err)
    assert.equal(readFileSync(path.join(first.base, 'outputs', 'a'), 'utf8'), 'kept\n')
    assert.equal(readFileSync(path.join(first.base, 'work', 'w', 'f'), 'utf8'), 'w\n')
    const second = await sh('cat /etc/added 2>/dev/null || echo fresh')
    assert.equal(second.out, 'fresh\n')
  })

  it('runs python3 on the python image', async () => {
    const r = await sh('python3 -c "import sys, zipfile; print(sys.version_info[0])"', { image: 'python' })
    assert.equal(r.out, '3\n', r.err + (r.error ?? ''))
  })

  it('stops a VM that does not get to the step in time, and says so', async () => {
    const impatient = createVmExecutor({ imagesDir: IMAGES, startTimeoutMs: 20 })
    const base = path.join(dir, `case-${n++}`)
    const r = await impatient.execute(shellSpec(base, 'echo never'))
    assert.equal(r.exitCode, null)
    assert.match(r.error ?? '', /^the VM did not start the step within 0\.02 s and was stopped/)
    assert.deepEqual(processesWith(base), [])
  })

  it('names a missing image and how to make it', async () => {
    const r = await sh('true', { image: 'nope' })
    assert.equal(r.code, null)
    assert.match(r.error ?? '', /no VM image 'nope' in .*: make it with bac image build <recipe folder> or bac image import <oci archive>/)
  })

  it('refuses less memory than a VM boots in', async () => {
    const r = await sh('true', { resources: { memoryBytes: 16 * 1024 * 1024 } })
    assert.match(r.error ?? '', /a VM needs at least 96M of memory; the step asks for 16M/)
  })
})

describe('vm executor: saved states', () => {
  it('boots once for a machine size even when two nodes ask for it at once (a lock beside the state)', { timeout: 120_000 }, async () => {
    // a fresh images folder (the shared images, linked) so that no state is saved yet
    const images = mkdtempSync(path.join(tmpdir(), 'bac-vm-states-'))
    try {
      linkImages(images, ['kernel', 'base'])
      // two executors share nothing in memory, as two bac processes would not
      const boots = new Set<number>()
      const watch = setInterval(() => {
        for (const pid of processesWith(images)) {
          try {
            const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
            if (cmd.includes('qemu-system') && cmd.includes('/.save-')) boots.add(pid)
          } catch {}
        }
      }, 25)
      const results = await Promise.all([0, 1].map(async (i) => {
        const base = path.join(images, `attempt-${i}`)
        return await createVmExecutor({ imagesDir: images }).execute(shellSpec(base, 'echo up'))
      }))
      clearInterval(watch)
      assert.deepEqual(results.map((r) => r.exitCode), [0, 0])
      assert.equal(boots.size, 1, 'each executor booted a VM to save the same state')
      assert.deepEqual(readdirSync(path.join(images, 'snapshots')).filter((f) => !f.endsWith('.state') && !f.endsWith('.json')), [])
    } finally {
      rmSync(images, { recursive: true, force: true })
    }
  })
})

describe('image store', () => {
  it('lists the images setup built, by name and digest prefix', async () => {
    const store = new ImageStore(IMAGES)
    const names = (await store.list()).flatMap((i) => i.names)
    for (const name of ['kernel', 'base', 'python']) assert.ok(names.includes(name), name)
    const base = await store.resolve('base')
    assert.equal((await store.resolve(base.digest.slice(7, 7 + 16))).digest, base.digest)
    assert.equal(base.kind, 'rootfs')
  })
})
