import assert from 'node:assert/strict'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { bac } from '../helpers/cli.js'

/**
 * Found by a security review (it failed before its fix). The project folder is the nearest folder above a pipeline that holds
 * `jobstore/`, looked for up to `/`: for a project in a folder everyone may write (/tmp, where
 * mkdtemp puts this one, CI scratch folders), another local user who makes `/tmp/jobstore/`
 * decides what `uses:` runs, and (for bac serve) makes all of /tmp an allowed folder.
 */
describe('uses: finds job templates only where no other user may have put them', () => {
  // a folder everyone may write, standing in for /tmp
  const shared = mkdtempSync(path.join(tmpdir(), 'bac-review-root-'))
  after(() => rmSync(shared, { recursive: true, force: true }))

  it('does not run a job template another user planted in a jobstore/ above the project', () => {
    chmodSync(shared, 0o1777)
    const project = path.join(shared, 'project')
    mkdirSync(path.join(project, 'pipelines'), { recursive: true })
    writeFileSync(path.join(project, 'pipelines', 'p.yml'), 'name: p\nsteps:\n  greet:\n    uses: hello\n')
    // another user's: what they may make in a shared folder
    const planted = path.join(shared, 'jobstore')
    mkdirSync(planted)
    writeFileSync(path.join(planted, 'hello.yml'), 'name: hello\nrun: echo planted-template-ran\n')
    if (process.getuid?.() === 0) {
      chownSync(planted, 65534, 65534)
      chownSync(path.join(planted, 'hello.yml'), 65534, 65534)
    }
    const r = bac(['run', 'pipelines/p.yml', '--data-dir', path.join(shared, 'data')], { cwd: project })
    assert.doesNotMatch(r.stdout + r.stderr, /planted-template-ran/, 'uses: ran a job template from a jobstore/ in a folder other users may write, above the project')
  })
})
