import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { readOciConfig } from '../../src/executors/vm/oci-config.js'

const work = realpathSync(mkdtempSync(path.join(tmpdir(), 'bac-oci-config-')))
after(() => { rmSync(work, { recursive: true, force: true }) })
let n = 0

/** An OCI layout whose one image has `config` as its config's `config`, and a root filesystem with `files` (or links). */
function image (config: unknown, files: Record<string, string | { link: string }> = {}): { layout: string, rootfs: string } {
  const base = path.join(work, `case-${n++}`)
  const layout = path.join(base, 'layout')
  const rootfs = path.join(base, 'rootfs')
  mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true })
  const put = (value: unknown): string => {
    const text = JSON.stringify(value)
    const hex = createHash('sha256').update(text).digest('hex')
    writeFileSync(path.join(layout, 'blobs', 'sha256', hex), text)
    return `sha256:${hex}`
  }
  const manifest = put({ schemaVersion: 2, config: { digest: put({ config }) }, layers: [] })
  writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ digest: manifest, annotations: { 'org.opencontainers.image.ref.name': 'bac' } }] }))
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(rootfs, name)), { recursive: true })
    if (typeof content === 'string') writeFileSync(path.join(rootfs, name), content)
    else symlinkSync(content.link, path.join(rootfs, name))
  }
  mkdirSync(rootfs, { recursive: true })
  return { layout, rootfs }
}

describe('an imported image\'s OCI config', () => {
  it('gives Env, WorkingDir, a numeric User, Entrypoint and Cmd as the image says', () => {
    const { layout, rootfs } = image({ Env: ['A=1', 'PATH=/bin'], WorkingDir: '/app', User: '1000:2000', Entrypoint: ['/bin/app'], Cmd: ['--serve'] })
    assert.deepEqual(readOciConfig(layout, 'bac', rootfs), {
      env: ['A=1', 'PATH=/bin'], workingDir: '/app', user: { uid: 1000, gid: 2000, name: '1000:2000' }, entrypoint: ['/bin/app'], cmd: ['--serve']
    })
  })

  it('resolves a user by name in the image\'s own /etc/passwd and /etc/group', () => {
    const { layout, rootfs } = image({ User: 'app:staff' }, { 'etc/passwd': 'app:x:1234:1235::/:/bin/sh\n', 'etc/group': 'staff:x:50:\n' })
    assert.deepEqual(readOciConfig(layout, 'bac', rootfs).user, { uid: 1234, gid: 50, name: 'app:staff' })
  })

  it('never reads a file of the host through a link in the image: a user found only there is refused', () => {
    const { layout, rootfs } = image({ User: 'root' }, { 'etc/passwd': { link: '/etc/passwd' } })
    assert.throws(() => readOciConfig(layout, 'bac', rootfs), /the image's User 'root' is not in its \/etc\/passwd/)
  })

  it('refuses what the OCI spec does not allow, saying which field', () => {
    assert.throws(() => readOciConfig(image({ WorkingDir: 'relative' }).layout, 'bac', work), /WorkingDir is not an absolute path/)
    assert.throws(() => readOciConfig(image({ Env: ['no equals'] }).layout, 'bac', work), /Env is not a list of NAME=value/)
    assert.throws(() => readOciConfig(image({ Env: [1] }).layout, 'bac', work), /Env is not a list of NAME=value/)
    assert.throws(() => readOciConfig(image({ User: 'a b; rm -rf /' }).layout, 'bac', work), /User is not a user/)
    assert.throws(() => readOciConfig(image({ Cmd: 'sh -c x' }).layout, 'bac', work), /Cmd is not a list of strings/)
  })
})
