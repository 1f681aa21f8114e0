import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { bac } from '../helpers/cli.js'

/**
 * Found by a security review (it failed before its fix). `after: move` puts a taken file in `processed/` beside the drop folder,
 * following a link there: when the drop folder's parent is shared (a drop folder in /tmp, a
 * shared incoming folder), another user's link sends every dropped file, as bac's user (root),
 * into a folder of their choosing (/etc/profile.d, say), or out to where they can read it.
 */
describe('after: move writes only into processed/ and failed/ folders of bac\'s own', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'bac-review-move-'))
  after(() => rmSync(work, { recursive: true, force: true }))

  it('does not move a taken file through a processed link another user made beside the drop folder', () => {
    const shared = path.join(work, 'shared')
    mkdirSync(path.join(shared, 'drop'), { recursive: true })
    chmodSync(shared, 0o1777)
    // the folder the link points to: one only bac's user may write (/etc/profile.d, /root/…)
    const target = path.join(work, 'private')
    mkdirSync(target, { mode: 0o700 })
    symlinkSync(target, path.join(shared, 'processed'))
    const project = path.join(work, 'project')
    mkdirSync(path.join(project, 'pipelines'), { recursive: true })
    mkdirSync(path.join(project, 'jobstore'))
    writeFileSync(path.join(project, 'pipelines', 'take.yml'), `name: take
on:
  watch:
    path: ${path.join(shared, 'drop')}
    glob: "*"
    input: f
    after: move
inputs:
  f: { type: file }
steps:
  count:
    run: wc -c < {{ inputs.f.path }}
`)
    writeFileSync(path.join(shared, 'drop', 'profile.sh'), 'echo sourced by every login shell\n')
    const r = bac(['watch', 'pipelines/take.yml', '--once', '--data-dir', path.join(work, 'data')], { cwd: project })
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(readdirSync(target), [], `bac moved the dropped file into ${target} through the link ${path.join(shared, 'processed')}`)
    assert.equal(existsSync(path.join(target, 'profile.sh')), false)
  })
})
