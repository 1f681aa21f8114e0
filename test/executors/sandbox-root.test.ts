import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { createSandboxExecutor } from '../../src/executors/index.js'
import { SandboxEtc } from '../../src/executors/sandbox-etc.js'
import type { ExecutionSpec } from '../../src/interfaces/executor.js'

/**
 * Found by a security review (each test failed before its fix). The sandbox when bac runs as root: nothing the step or
 * another local user controls may run with root's rights.
 */

const isRoot = process.getuid?.() === 0
const cc = ['/usr/bin/cc', '/usr/bin/gcc'].find((c) => existsSync(c))

describe('the sandbox never lends root to what a step or another user controls', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bac-review-sandbox-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('the step\'s env (LD_PRELOAD) does not reach the root setpriv that starts the step', { skip: !isRoot || cc === undefined ? 'needs root and a C compiler' : false }, async () => {
    const lib = path.join(dir, 'lib')
    mkdirSync(lib)
    // a library whose constructor leaves a mark in /outputs when it runs as root (uid 0)
    writeFileSync(path.join(lib, 'mark.c'), '#include <stdio.h>\n#include <unistd.h>\n' +
      '__attribute__((constructor)) static void mark (void) { if (getuid() == 0) { FILE *f = fopen("/outputs/ran-as-root", "w"); if (f) { fputs("root code in the sandbox\\n", f); fclose(f); } } }\n')
    execFileSync(cc as string, ['-shared', '-fPIC', '-o', path.join(lib, 'mark.so'), path.join(lib, 'mark.c')])
    const base = path.join(dir, 'preload')
    const spec: ExecutionSpec = {
      action: { kind: 'shell', shell: 'sh', script: 'echo a harmless step' },
      // what a pipeline run on the sandbox (untrusted code, as the README advises) may set
      env: { LD_PRELOAD: '/inputs/lib/mark.so' },
      inputs: { lib },
      outputsDir: path.join(base, 'outputs'),
      workDir: path.join(base, 'work'),
      logsDir: path.join(base, 'logs')
    }
    const result = await createSandboxExecutor().execute(spec)
    assert.equal(result.exitCode, 0)
    assert.equal(existsSync(path.join(spec.outputsDir, 'ran-as-root')), false, 'code the step chose ran as root (with capabilities) inside the sandbox, before setpriv dropped to nobody')
  })

  it('a sandbox /etc removed while bac runs (a temp cleaner) and made again by another user is not used', { skip: !isRoot ? 'needs root to make a folder of another user' : false }, async () => {
    const root = path.join(dir, 'tmp')
    mkdirSync(root, { mode: 0o1777 })
    const etc = new SandboxEtc({ uid: 65534, gid: 65534 }, root)
    const first = (await etc.args())[1] as string
    // the temporary folder's cleaner removes it; another local user (nobody here) takes the name
    rmSync(first, { recursive: true, force: true })
    mkdirSync(first, { mode: 0o755 })
    for (const name of ['passwd', 'group', 'hosts', 'nsswitch.conf', 'ld.so.cache', 'ld.so.preload']) {
      writeFileSync(path.join(first, name), name === 'ld.so.preload' ? '/etc/attacker.so\n' : 'planted\n')
    }
    mkdirSync(path.join(first, 'alternatives'))
    execFileSync('chown', ['-R', '65534:65534', first])
    chownSync(first, 65534, 65534)
    const second = (await etc.args())[1] as string
    assert.equal(statSync(second).uid, 0, `the sandbox's /etc is now ${second}, a folder of uid ${statSync(second).uid}: its ld.so.preload runs in the root setpriv of every step`)
    assert.doesNotMatch(readFileSync(path.join(second, 'passwd'), 'utf8'), /planted/)
  })
})
