import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { BAC_BIN } from '../helpers/paths.js'

/**
 * A descriptor that whatever started bac left open (no close-on-exec: a shell's `40<secret`, a
 * parent that forgot one) would be handed on to every step. bac closes them at start.
 */
const { BAC_NODE: _, ...inherited } = process.env

describe('a step gets no descriptor bac was started with', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'bac-fds-'))
  after(() => { rmSync(work, { recursive: true, force: true }) })

  it('a file open on fd 40 when bac starts is not open in the step', async () => {
    const secret = path.join(work, 'secret.txt')
    writeFileSync(secret, 'SECRET-ON-FD-3\n')
    writeFileSync(path.join(work, 'p.yml'), [
      'name: fds',
      'steps:',
      '  peek:',
      '    run: |',
      '      if [ -e /proc/self/fd/40 ]; then echo "fd 40 open: $(cat <&40)"; else echo "fd 40 closed"; fi',
      ''
    ].join('\n'))
    const fd = openSync(secret, 'r')
    try {
      const child = spawn(process.execPath, [BAC_BIN, 'run', 'p.yml', '--executor', 'process'], {
        cwd: work,
        env: { ...inherited, BAC_HOME: path.join(work, 'home'), NO_COLOR: '1' },
        // an inherited descriptor, as a shell's 40<file gives it (Node itself marks low ones
        // close-on-exec as it starts; one above them reached the step before bac closed it)
        stdio: ['ignore', 'pipe', 'pipe', ...Array<'ignore'>(37).fill('ignore'), fd]
      })
      let out = ''
      child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
      child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
      const code = await new Promise((resolve) => child.once('close', resolve))
      assert.equal(code, 0, out)
      assert.match(out, /fd 40 closed/)
      assert.doesNotMatch(out, /SECRET-ON-FD-3/)
    } finally {
      closeSync(fd)
    }
  })
})
