import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { createSandboxExecutor } from '../../src/executors/index.js'
import type { ExecutionSpec } from '../../src/interfaces/executor.js'
import { executorCompliance } from './compliance.js'

/** A step's log; a stream it never wrote to has no file, which reads as empty. */
function readLog (dir: string, stream: 'stdout' | 'stderr'): string {
  const file = path.join(dir, `${stream}.log`)
  return existsSync(file) ? readFileSync(file, 'utf8') : ''
}

executorCompliance('sandbox', (init) => createSandboxExecutor(init))

describe('sandbox executor: isolation', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bac-sandbox-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  const executor = createSandboxExecutor({ killGraceMs: 300 })
  let n = 0

  async function sh (script: string, extra: Partial<ExecutionSpec> = {}): Promise<{ code: number | null, out: string, err: string }> {
    const base = path.join(dir, `case-${n++}`)
    const data = path.join(base, 'data')
    mkdirSync(data, { recursive: true })
    writeFileSync(path.join(data, 'in.txt'), 'stored content\n')
    const spec: ExecutionSpec = {
      action: { kind: 'shell', shell: 'sh', script },
      env: {},
      inputs: { data },
      cids: { QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG: data },
      outputsDir: path.join(base, 'outputs'),
      workDir: path.join(base, 'work'),
      logsDir: path.join(base, 'logs'),
      ...extra
    }
    const r = await executor.execute(spec)
    return { code: r.exitCode, out: readLog(spec.logsDir, 'stdout'), err: readLog(spec.logsDir, 'stderr') }
  }

  it('mounts inputs read-only, even for root, at /inputs/<name> and /ipfs/<cid>', async () => {
    const r = await sh('cat /inputs/data/in.txt /ipfs/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG/in.txt; echo changed > /inputs/data/in.txt || echo refused')
    assert.equal(r.out, 'stored content\nstored content\nrefused\n')
    assert.match(r.err, /Read-only file system/)
    assert.equal(readFileSync(path.join(dir, `case-${n - 1}`, 'data', 'in.txt'), 'utf8'), 'stored content\n')
  })

  it('keeps system folders read-only and /tmp private', async () => {
    const r = await sh('touch /usr/pwned 2>/dev/null || echo usr-ro; touch /etc/pwned 2>/dev/null || echo etc-ro; echo x > /tmp/private && cat /tmp/private')
    assert.equal(r.out, 'usr-ro\netc-ro\nx\n')
  })

  it('has no network', async () => {
    const r = await sh('cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "; python3 -c "import socket; socket.create_connection((\'127.0.0.1\', 9), 1)" 2>&1 | tail -1')
    assert.equal(r.out.split('\n')[0], 'lo')
    assert.match(r.out, /Network is unreachable|Connection refused/)
  })

  it('writes outputs to /outputs and works in /work', async () => {
    const r = await sh('pwd; echo result > /outputs/r.txt')
    assert.equal(r.out, '/work\n')
    assert.equal(readFileSync(path.join(dir, `case-${n - 1}`, 'outputs', 'r.txt'), 'utf8'), 'result\n')
  })

  it('refuses input names that are not a plain path segment', async () => {
    const base = path.join(dir, 'bad-name')
    const r = await executor.execute({ action: { kind: 'shell', shell: 'sh', script: 'true' }, env: {}, inputs: { '../etc': dir }, outputsDir: path.join(base, 'o'), workDir: path.join(base, 'w'), logsDir: path.join(base, 'l') })
    assert.match(r.error ?? '', /cannot mount an input named "..\/etc"/)
  })
})
