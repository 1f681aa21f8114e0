import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { openRegularFile } from '../../src/common/files.js'

/**
 * Found by a security review (it failed before its fix). `openRegularFile` says a FIFO or a device is never opened; it checks the
 * path (stat), then opens the path again, and a parent folder swapped for a link in between
 * (anyone who can write in a drop folder's sub-folder, or in an allowed folder, can) makes it open
 * whatever the link reaches: here a FIFO, seen opened by inotify; /dev/<anything> alike.
 */

const cc = ['/usr/bin/cc', '/usr/bin/gcc'].find((c) => existsSync(c))

/** exchanges two names N times (RENAME_EXCHANGE): `a` is a folder and a link by turns */
const SWAP = `#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/fs.h>
int main (int argc, char **argv) { long n = atol(argv[3]); for (long i = 0; i < n; i++) if (syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) != 0) return 1; return 0; }
`
/** prints a line each time the file is opened (inotify IN_OPEN) */
const WATCH = `#include <stdio.h>
#include <sys/inotify.h>
#include <unistd.h>
int main (int argc, char **argv) { int fd = inotify_init1(0); char buf[4096]; if (inotify_add_watch(fd, argv[1], IN_OPEN) < 0) return 1; ` +
  `setvbuf(stdout, NULL, _IONBF, 0); puts("ready"); for (;;) { if (read(fd, buf, sizeof buf) <= 0) return 0; puts("open"); } }
`

describe('a file is opened only once it is known to be a regular file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bac-review-open-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('never opens a FIFO reached through a parent folder swapped for a link after the check', { skip: cc === undefined ? 'needs a C compiler for renameat2 and inotify' : false }, async () => {
    for (const [name, source] of [['swap', SWAP], ['watch', WATCH]] as const) {
      writeFileSync(path.join(dir, `${name}.c`), source)
      execFileSync(cc as string, ['-O2', '-o', path.join(dir, name), path.join(dir, `${name}.c`)])
    }
    const tree = path.join(dir, 'tree')
    mkdirSync(path.join(tree, 'd'), { recursive: true })
    mkdirSync(path.join(tree, 'elsewhere'))
    writeFileSync(path.join(tree, 'd', 'x'), 'a regular file\n')
    execFileSync('mkfifo', [path.join(tree, 'elsewhere', 'x')])
    symlinkSync('elsewhere', path.join(tree, 'l'))
    const watcher = spawn(path.join(dir, 'watch'), [path.join(tree, 'elsewhere', 'x')])
    let opens = 0
    await new Promise<void>((resolve) => {
      watcher.stdout.on('data', (d: Buffer) => {
        const lines = d.toString().split('\n')
        if (lines.includes('ready')) resolve()
        opens += lines.filter((l) => l === 'open').length
      })
    })
    const swapper = spawn(path.join(dir, 'swap'), [path.join(tree, 'd'), path.join(tree, 'l'), '100000000'], { stdio: 'ignore' })
    try {
      // bounded: at most 20,000 tries, stopping at the first open of the FIFO
      for (let i = 0; i < 20_000 && opens === 0; i++) {
        try {
          const { handle } = await openRegularFile(path.join(tree, 'd', 'x'), { nofollow: true })
          await handle.close()
        } catch {}
        if (i % 500 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
    } finally {
      swapper.kill('SIGKILL')
      await new Promise((resolve) => setTimeout(resolve, 200))
      watcher.kill('SIGKILL')
    }
    assert.equal(opens, 0, 'openRegularFile opened a FIFO (a device would be opened the same way) after its check had seen a regular file')
  })
})
