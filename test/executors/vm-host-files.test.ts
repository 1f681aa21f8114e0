import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { createVmExecutor } from '../../src/executors/index.js'
import type { ExecutionSpec } from '../../src/interfaces/executor.js'
import { IMAGES } from '../helpers/paths.js'

/**
 * Found by a security review (it failed before its fix). A vm step is root in its machine; what it writes in /work and /outputs is
 * written on the host by QEMU (9p, security_model=none): as root when bac is root, with the
 * guest's owner and mode bits. A setuid-root program left there is one any local user who reaches
 * the data dir (0755 by default) can run.
 */
describe('a vm step leaves no setuid program of root on the host', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bac-review-vm-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('a file the guest made setuid root is not setuid root on the host', {
    skip: process.getuid?.() !== 0 || !existsSync(path.join(IMAGES, 'names')) || !existsSync('/dev/kvm') ? 'needs root, the test images and /dev/kvm' : false
  }, async () => {
    const base = path.join(dir, 'case')
    mkdirSync(base, { recursive: true })
    const spec: ExecutionSpec = {
      action: {
        kind: 'shell',
        shell: 'sh',
        script: 'cp /bin/busybox /work/tool 2>/dev/null || cp /bin/sh /work/tool; chown 0:0 /work/tool; chmod 4755 /work/tool; cp /work/tool /outputs/tool; chmod 4755 /outputs/tool'
      },
      env: {},
      inputs: {},
      outputsDir: path.join(base, 'outputs'),
      workDir: path.join(base, 'work'),
      logsDir: path.join(base, 'logs')
    }
    const result = await createVmExecutor({ imagesDir: IMAGES, killGraceMs: 300 }).execute(spec)
    assert.equal(result.exitCode, 0, result.error)
    const setuidRoot = [spec.workDir, spec.outputsDir].flatMap((folder) => readdirSync(folder).map((name) => path.join(folder, name)))
      .filter((file) => { const s = statSync(file); return s.uid === 0 && (s.mode & 0o4000) !== 0 })
    assert.deepEqual(setuidRoot, [], 'the guest left setuid-root programs on the host')
  })
})
