import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { createSandboxExecutor } from '../../src/executors/index.js'
import { SandboxEtc } from '../../src/executors/sandbox-etc.js'
import type { ExecutionSpec } from '../../src/interfaces/executor.js'
import { ROOT } from '../helpers/paths.js'
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

  it('runs the step as an unprivileged user with a minimal /etc, even when bac runs as root', async () => {
    const secrets = ['/etc/shadow', '/etc/gshadow', '/etc/sudoers', '/etc/ssh', '/etc/ssl/private', '/etc/machine-id', '/root', '/home']
    const r = await sh([
      'id -u; id -g; id -G; id -un',
      ...secrets.map((f) => `if [ -e ${f} ]; then echo sees ${f}; fi`),
      'cat /etc/ssh/ssh_host_*_key /etc/shadow 2>/dev/null && echo read-a-secret',
      'ls /etc | tr "\\n" " "; echo',
      'cut -d: -f1 /etc/passwd | tr "\\n" " "; echo',
      'grep Cap /proc/self/status | grep -v "0000000000000000$"; hostname',
      'echo x > /tmp/mine && cat /tmp/mine; echo y > /work/mine && echo z > /outputs/mine && echo writes'
    ].join('\n'))
    const expected = process.getuid?.() === 0 ? { uid: '65534', gid: '65534', name: 'nobody' } : { uid: String(process.getuid?.()), gid: String(process.getgid?.()), name: 'step' }
    assert.equal(r.out, [
      expected.uid, expected.gid, expected.gid, expected.name,
      'alternatives group hosts ld.so.cache localtime nsswitch.conf os-release passwd ',
      `root ${expected.name} `,
      'sandbox', 'x', 'writes', ''
    ].join('\n'), r.err)
    assert.equal(statSync(path.join(dir, `case-${n - 1}`, 'outputs', 'mine')).uid, Number(expected.uid), 'the outputs are the step user\'s own')
  })

  it('runs the shipped python scripts: extract, then aggregate', async () => {
    const base = path.join(dir, `scripts-${n++}`)
    const run = async (script: string, inputs: Record<string, string>, outputs: string): Promise<string> => {
      const spec: ExecutionSpec = { action: { kind: 'shell', shell: 'sh', script }, env: {}, inputs, outputsDir: outputs, workDir: `${outputs}.work`, logsDir: `${outputs}.logs` }
      const r = await executor.execute(spec)
      assert.equal(r.exitCode, 0, readLog(spec.logsDir, 'stderr'))
      return readLog(spec.logsDir, 'stdout') + readLog(spec.logsDir, 'stderr')
    }
    const scripts = path.join(ROOT, 'scripts')
    const said = await run(
      'python3 /inputs/scripts/extract.py /inputs/data/sales.zip /outputs/files --only "*.csv"',
      { scripts, data: path.join(ROOT, 'pipelines', 'data') },
      path.join(base, 'extract')
    )
    assert.match(said, /extracted 2 file\(s\)/)
    await run('python3 /inputs/scripts/aggregate.py /inputs/files /outputs --group-by category', { scripts, files: path.join(base, 'extract', 'files') }, path.join(base, 'aggregate'))
    assert.equal((JSON.parse(readFileSync(path.join(base, 'aggregate', 'summary.json'), 'utf8')) as { total_rows: number }).total_rows, 7)
  })

  it('gives private writable copies of /ipfs/<cid> with writableCids, which sed -i edits in place', async () => {
    const cid = 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'
    const r = await sh(`sed -i s/stored/edited/ /ipfs/${cid}/in.txt && cat /ipfs/${cid}/in.txt`, { writableCids: true })
    assert.equal(r.out, 'edited content\n', r.err)
    assert.equal(readFileSync(path.join(dir, `case-${n - 1}`, 'outputs', 'ipfs', cid, 'in.txt'), 'utf8'), 'edited content\n')
    assert.equal(readFileSync(path.join(dir, `case-${n - 1}`, 'data', 'in.txt'), 'utf8'), 'stored content\n')
  })

  it('keeps writable copies only in a real outputs/ipfs folder, never through a link the step made there', async () => {
    const cid = 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'
    const elsewhere = path.join(dir, `elsewhere-${n}`)
    mkdirSync(elsewhere)
    const r = await sh(`ln -s ${elsewhere} /outputs/ipfs && echo linked`, { writableCids: true })
    assert.equal(r.out, 'linked\n', r.err)
    assert.deepEqual(readdirSync(elsewhere), [], 'a copy was moved through the step\'s link')
  })

  it('makes private copies writable without following a link in them', async () => {
    const cid = 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'
    const base = path.join(dir, `linked-${n++}`)
    mkdirSync(path.join(base, 'content'), { recursive: true })
    writeFileSync(path.join(base, 'target'), 'not the copy\'s\n', { mode: 0o444 })
    symlinkSync(path.join(base, 'target'), path.join(base, 'content', 'link'))
    const spec: ExecutionSpec = {
      action: { kind: 'shell', shell: 'sh', script: 'true' },
      env: {},
      inputs: {},
      cids: { [cid]: path.join(base, 'content') },
      writableCids: true,
      outputsDir: path.join(base, 'o'),
      workDir: path.join(base, 'w'),
      logsDir: path.join(base, 'l')
    }
    assert.equal((await executor.execute(spec)).exitCode, 0)
    assert.equal(statSync(path.join(base, 'target')).mode & 0o777, 0o444)
    assert.equal(statSync(path.join(base, 'target')).uid, process.getuid?.())
  })

  it('makes its /etc once, and uses one found in place only if no one else may have written it', async () => {
    const root = path.join(dir, `etc-${n++}`)
    mkdirSync(root)
    const user = { uid: 65534, gid: 65534 }
    const folderOf = async (etc: SandboxEtc): Promise<string> => (await etc.args())[1] ?? ''
    const first = await folderOf(new SandboxEtc(user, root))
    assert.match(path.basename(first), /^bac-sandbox-etc-\d+-[0-9a-f]{16}$/)
    assert.match(readFileSync(path.join(first, 'passwd'), 'utf8'), /^root:x:0:0:.*\nnobody:x:65534:65534:/)
    assert.equal(statSync(first).mode & 0o777, 0o755)
    assert.equal(await folderOf(new SandboxEtc(user, root)), first, 'made again')
    chmodSync(first, 0o777)
    writeFileSync(path.join(first, 'passwd'), 'planted\n')
    const own = await folderOf(new SandboxEtc(user, root))
    assert.notEqual(own, first, 'a folder others may write was used')
    assert.match(readFileSync(path.join(own, 'passwd'), 'utf8'), /^root:x:0:0:/)
  })

  it('refuses root as the user steps run as', () => {
    assert.throws(() => createSandboxExecutor({ user: { uid: 0, gid: 0 } }), /option 'user' must be a uid and gid other than 0/)
  })

  it('refuses input names that are not a plain path segment', async () => {
    const base = path.join(dir, 'bad-name')
    const r = await executor.execute({
      action: { kind: 'shell', shell: 'sh', script: 'true' },
      env: {},
      inputs: { '../etc': dir },
      outputsDir: path.join(base, 'o'),
      workDir: path.join(base, 'w'),
      logsDir: path.join(base, 'l')
    })
    assert.match(r.error ?? '', /cannot mount an input named "..\/etc"/)
  })
})
