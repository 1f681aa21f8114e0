import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, linkSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import type { NodeEvent } from '../../src/index.js'
import { Project, until } from './helpers.js'

/** A pipeline that copies each dropped file into its outputs: what it was given is what a link could leak. */
const COPY = `name: copy
on:
  watch: { path: ../drop, glob: "*.txt", input: file, after: keep, stable: 200ms }
inputs:
  file: { type: file }
steps:
  copy:
    outputs: { out: out.txt }
    run: cat {{ inputs.file.path }} > {{ outputs.out }}
`

const errors = (events: NodeEvent[], name: string): string[] => events.flatMap((e) => e.type === 'file:error' && path.basename(e.path) === name ? [e.message] : [])

describe('drop folders take only files that are theirs', () => {
  const projects: Project[] = []
  const project = (): Project => { const p = new Project(); projects.push(p); return p }
  after(async () => { for (const p of projects) await p.close() })

  /** Drops a plain file and waits for its run: whatever was dropped before it has been looked at by then. */
  async function settle (p: Project, name: string): Promise<void> {
    writeFileSync(path.join(p.dir, `${name}.tmp`), `${name}\n`)
    renameSync(path.join(p.dir, `${name}.tmp`), path.join(p.dir, 'drop', name))
    await until(() => p.runs().some((r) => (r.trigger.file as { name?: string } | undefined)?.name === name && r.status === 'succeeded'), `the run of ${name}`)
  }

  it('refuses a link to a file outside the folder (a secret, /etc/passwd), and takes one to a file inside', async () => {
    const p = project()
    await p.start([p.pipeline('copy', COPY)])
    writeFileSync(path.join(p.dir, 'secret'), 'the secret\n')
    symlinkSync(path.join(p.dir, 'secret'), path.join(p.dir, 'drop', 'leak.txt'))
    symlinkSync('/etc/passwd', path.join(p.dir, 'drop', 'passwd.txt'))
    symlinkSync('../secret', path.join(p.dir, 'drop', 'relative.txt'))
    writeFileSync(path.join(p.dir, 'drop', 'real.dat'), 'inside\n')
    symlinkSync('real.dat', path.join(p.dir, 'drop', 'alias.txt'))
    await settle(p, 'after.txt')
    await until(() => ['leak.txt', 'passwd.txt', 'relative.txt'].every((n) => errors(p.events, n).length > 0), 'every link out to be refused')
    for (const name of ['leak.txt', 'passwd.txt', 'relative.txt']) {
      assert.match(errors(p.events, name)[0] ?? '', /is a link to .*, outside the drop folder/)
      assert.equal(existsSync(path.join(p.dir, 'drop', name)), true, 'a refused link stays where it is')
    }
    // the link inside was dropped before after.txt but may be taken after it (its target waits out the stable window)
    await until(() => p.runs().some((r) => (r.trigger.file as { name?: string } | undefined)?.name === 'alias.txt' && r.status === 'succeeded'), 'the run of alias.txt')
    const runs = p.runs()
    assert.deepEqual(runs.map((r) => (r.trigger.file as { name: string }).name).sort(), ['after.txt', 'alias.txt'])
    const alias = runs.find((r) => (r.trigger.file as { name: string }).name === 'alias.txt')
    assert.equal(readFileSync(path.join(p.dir, 'outputs', alias?.id ?? '', 'copy', 'merged', 'out.txt'), 'utf8'), 'inside\n')
    for (const run of runs) assert.doesNotMatch(readFileSync(path.join(p.dir, 'outputs', run.id, 'copy', 'merged', 'out.txt'), 'utf8'), /secret|root:/)
    // refused once, not at every event the watcher sees for it
    assert.equal(errors(p.events, 'leak.txt').length, 1)
  })

  it('refuses a hard link (a file with another name, which may be elsewhere)', async () => {
    const p = project()
    await p.start([p.pipeline('copy', COPY)])
    writeFileSync(path.join(p.dir, 'secret'), 'the secret\n')
    linkSync(path.join(p.dir, 'secret'), path.join(p.dir, 'drop', 'hard.txt'))
    await settle(p, 'after.txt')
    await until(() => errors(p.events, 'hard.txt').length > 0, 'the hard link to be refused')
    assert.match(errors(p.events, 'hard.txt')[0] ?? '', /has 2 names \(hard links\)/)
    assert.deepEqual(p.runs().map((r) => (r.trigger.file as { name: string }).name), ['after.txt'])
  })

  it('never opens a FIFO or a socket dropped in, and keeps taking files', async () => {
    const p = project()
    await p.start([p.pipeline('copy', COPY)])
    execFileSync('mkfifo', [path.join(p.dir, 'drop', 'pipe.txt')])
    execFileSync('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])', path.join(p.dir, 'drop', 'sock.txt')])
    symlinkSync('pipe.txt', path.join(p.dir, 'drop', 'to-pipe.txt'))
    await settle(p, 'first.txt')
    await settle(p, 'second.txt')
    assert.deepEqual(p.runs().map((r) => (r.trigger.file as { name: string }).name).sort(), ['first.txt', 'second.txt'])
  })

  it('refuses a file that became a link to outside while it was waiting to be complete', async () => {
    const p = project()
    await p.start([p.pipeline('copy', COPY.replace('stable: 200ms', 'stable: 1s'))])
    writeFileSync(path.join(p.dir, 'secret'), 'the secret\n')
    const file = path.join(p.dir, 'drop', 'swapped.txt')
    // written in place: it waits for its stable window, and is swapped for a link meanwhile
    writeFileSync(file, 'harmless\n')
    rmSync(file)
    symlinkSync(path.join(p.dir, 'secret'), file)
    await until(() => errors(p.events, 'swapped.txt').length > 0, 'the swapped file to be refused')
    assert.match(errors(p.events, 'swapped.txt')[0] ?? '', /outside the drop folder/)
    await settle(p, 'after.txt')
    assert.deepEqual(p.runs().map((r) => (r.trigger.file as { name: string }).name), ['after.txt'])
  })
})
