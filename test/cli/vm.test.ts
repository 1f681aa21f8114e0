import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { bac, startBac } from '../helpers/cli.js'
import { linkImages } from '../helpers/images.js'
import { IMAGES, ROOT } from '../helpers/paths.js'
import { processesWith } from '../helpers/processes.js'

const work = mkdtempSync(path.join(tmpdir(), 'bac-cli-vm-'))
after(() => rmSync(work, { recursive: true, force: true }))
const env = { BAC_HOME: path.join(work, 'home'), BAC_IMAGES: IMAGES }
const slow = { timeout: 120_000 }

describe('bac run --executor vm and bac image', () => {
  it('lists the images', () => {
    const r = bac(['image', 'list'], { env })
    assert.equal(r.code, 0, r.stderr)
    for (const name of ['kernel', 'base', 'python']) assert.match(r.stdout, new RegExp(`^${name}\\s+sha256:[0-9a-f]{12}\\s`, 'm'))
  })

  it('runs the demo pipeline unchanged in VMs on the python image, with the same result as raw processes', slow, () => {
    const processRun = bac(['run', 'pipelines/sales-report.yml', '--outputs', path.join(work, 'out')], { env })
    assert.equal(processRun.code, 0, processRun.stderr)
    const vmRun = bac(['run', 'pipelines/sales-report.yml', '--executor', 'vm', '--image', 'python', '--outputs', path.join(work, 'out')], { env })
    assert.equal(vmRun.code, 0, vmRun.stderr)
    assert.match(vmRun.stderr, /extract started on node-[0-9a-f]+ \(vm\)/)
    assert.match(vmRun.stderr, /aggregate \| summarised 2 file\(s\), 7 row\(s\)/)
    assert.equal(vmRun.stdout.trim(), processRun.stdout.trim())
  })

  it('says which image is missing and how to build it', () => {
    const r = bac(['run', 'pipelines/sales-report.yml', '--executor', 'vm', '--image', 'no-such-image'], { env })
    assert.equal(r.code, 1)
    assert.match(r.stderr, /no VM image 'no-such-image' in .*images: make it with bac image build <recipe folder> or bac image import <oci archive>/)
    assert.doesNotMatch(r.stderr, /\n\s+at /)
    assert.equal(bac(['run', 'pipelines/hello.yml', '--image', 'python'], { env }).stderr.trim(), 'bac: --image is for the vm executor: add --executor vm')
  })

  it('imports an OCI archive (made with umoci) and runs a step on it', slow, () => {
    // an OCI layout with one layer: busybox and a marker file, packed as an oci-archive
    const layout = path.join(work, 'layout')
    const bundle = path.join(work, 'bundle')
    execFileSync('umoci', ['init', '--layout', layout])
    execFileSync('umoci', ['new', '--image', `${layout}:app`])
    execFileSync('umoci', ['unpack', '--image', `${layout}:app`, bundle])
    const rootfs = path.join(bundle, 'rootfs')
    mkdirSync(path.join(rootfs, 'bin'), { recursive: true })
    cpSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'))
    for (const applet of ['sh', 'cat', 'echo']) execFileSync('ln', ['-s', 'busybox', path.join(rootfs, 'bin', applet)])
    writeFileSync(path.join(rootfs, 'marker'), 'from the archive\n')
    chmodSync(path.join(rootfs, 'marker'), 0o644)
    execFileSync('umoci', ['repack', '--image', `${layout}:app`, bundle])
    const archive = path.join(work, 'app.tar')
    execFileSync('tar', ['-C', layout, '-cf', archive, '.'])

    // a fresh images folder holding only the shared kernel (linked, not copied)
    const images = path.join(work, 'images')
    linkImages(images, ['kernel'])

    const imported = bac(['image', 'import', archive, '--name', 'app', '--images', images], { env })
    assert.equal(imported.code, 0, imported.stderr)
    assert.match(imported.stdout, /^app sha256:[0-9a-f]{64} \(rootfs, /)
    const bad = bac(['image', 'import', path.join(ROOT, 'package.json'), '--name', 'bad', '--images', images], { env })
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /^bac: cannot read .*package\.json as an OCI or docker archive: /)

    const pipeline = path.join(work, 'marker.yml')
    writeFileSync(pipeline, 'name: marker\nsteps:\n  show:\n    executor: vm\n    image: app\n    run: cat /marker\n')
    const r = bac(['run', pipeline, '--outputs', path.join(work, 'out')], { env: { ...env, BAC_IMAGES: images } })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /show \| from the archive/)

    // a second import under the same name: the first image, and the VM state saved from it, go with prune
    const again = bac(['image', 'import', archive, '--name', 'app', '--images', images], { env })
    assert.equal(again.code, 0, again.stderr)
    const changed = again.stdout.split(' ')[1] !== imported.stdout.split(' ')[1]
    const pruned = bac(['image', 'prune', '--images', images], { env })
    assert.equal(pruned.code, 0, pruned.stderr)
    assert.match(pruned.stdout, changed ? /^removed 1 image and 1 saved VM state, / : /^removed 0 images and 0 saved VM states, /)
    const left = bac(['image', 'list', '--json', '--images', images], { env })
    assert.deepEqual((JSON.parse(left.stdout) as Array<{ names: string[] }>).map((i) => i.names.join()).sort(), ['app', 'kernel'])
  })

  it('honours an imported image\'s OCI config: Env before the step\'s, WorkingDir, and User by name from its /etc/passwd', slow, () => {
    const layout = path.join(work, 'cfg-layout')
    const bundle = path.join(work, 'cfg-bundle')
    execFileSync('umoci', ['init', '--layout', layout])
    execFileSync('umoci', ['new', '--image', `${layout}:app`])
    execFileSync('umoci', ['unpack', '--image', `${layout}:app`, bundle])
    const rootfs = path.join(bundle, 'rootfs')
    mkdirSync(path.join(rootfs, 'bin'), { recursive: true })
    mkdirSync(path.join(rootfs, 'etc'), { recursive: true })
    cpSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'))
    execFileSync('ln', ['-s', 'busybox', path.join(rootfs, 'bin', 'sh')])
    writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1234:1235::/srv/app:/bin/sh\n')
    writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\napp:x:1235:\n')
    execFileSync('umoci', ['repack', '--image', `${layout}:app`, bundle])
    execFileSync('umoci', ['config', '--image', `${layout}:app`, '--config.env', 'GREETING=hello', '--config.env', 'SHADOWED=image',
      '--config.env', 'PATH=/bin', '--config.workingdir', '/srv/app', '--config.user', 'app'])
    const archive = path.join(work, 'cfg.tar')
    execFileSync('tar', ['-C', layout, '-cf', archive, '.'])
    const images = path.join(work, 'cfg-images')
    linkImages(images, ['kernel'])
    const imported = bac(['image', 'import', archive, '--name', 'cfg', '--images', images], { env })
    assert.equal(imported.code, 0, imported.stderr)
    const listed = JSON.parse(bac(['image', 'list', '--json', '--images', images], { env }).stdout) as Array<{ names: string[], config?: { user?: unknown, workingDir?: string } }>
    assert.deepEqual(listed.find((i) => i.names.includes('cfg'))?.config?.user, { uid: 1234, gid: 1235, name: 'app' })
    const pipeline = path.join(work, 'cfg.yml')
    writeFileSync(pipeline, `name: cfg
steps:
  who:
    executor: vm
    image: cfg
    env:
      SHADOWED: step
    run: |
      echo "$GREETING $SHADOWED $(pwd) $(busybox id -u):$(busybox id -g)" > {{ outputs.path }}/who.txt
      echo made > here.txt && busybox stat -c %u here.txt >> {{ outputs.path }}/who.txt
`)
    const out = path.join(work, 'cfg-out')
    const r = bac(['run', pipeline, '--outputs', out], { env: { ...env, BAC_IMAGES: images } })
    assert.equal(r.code, 0, r.stderr)
    const runId = readdirSync(out)[0] ?? ''
    assert.equal(readFileSync(path.join(out, runId, 'who', '0', 'who.txt'), 'utf8'), 'hello step /srv/app 1234:1235\n1234\n')
  })

  it('leaves no VM behind when bac itself is killed with SIGKILL', slow, async () => {
    const home = path.join(work, 'killed-home')
    const pipeline = path.join(work, 'long.yml')
    writeFileSync(pipeline, 'name: long\nsteps:\n  wait:\n    executor: vm\n    run: echo begun; sleep 600\n')
    const { child } = await startBac(['run', pipeline, '--outputs', path.join(work, 'out')], /wait \| begun/, { cwd: work, env: { BAC_HOME: home, BAC_IMAGES: IMAGES } })
    assert.ok(processesWith(home).some((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('/usr/bin/qemu-system')), 'no QEMU ran the step')
    child.kill('SIGKILL')
    let left = processesWith(home)
    for (let i = 0; i < 100 && left.length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      left = processesWith(home)
    }
    assert.deepEqual(left, [], 'a VM outlived bac')
  })

  it('shows an earlier step\'s outputs (steps.<id>.outputs.path) inside the sandbox and the VM, at /ipfs/<cid>', slow, () => {
    const pipeline = path.join(work, 'paths.yml')
    writeFileSync(pipeline, `name: paths
steps:
  make:
    run: echo made > {{ outputs.path }}/m.txt
  sandboxed:
    needs: [make]
    executor: sandbox
    run: cat {{ steps.make.outputs.path }}/m.txt > {{ outputs.path }}/seen; echo {{ steps.make.outputs.path }} >> {{ outputs.path }}/seen
  virtual:
    needs: [make]
    executor: vm
    run: cat {{ steps.make.outputs.path }}/m.txt > {{ outputs.path }}/seen; echo {{ steps.make.outputs.path }} >> {{ outputs.path }}/seen
`)
    const r = bac(['run', pipeline, '--outputs', path.join(work, 'out')], { env })
    assert.equal(r.code, 0, r.stderr)
    const run = /run ([0-9a-f]+) succeeded/.exec(r.stderr)?.[1] ?? ''
    for (const step of ['sandboxed', 'virtual']) {
      assert.match(readFileSync(path.join(work, 'out', run, step, 'merged', 'seen'), 'utf8'), /^made\n\/ipfs\/Qm[1-9A-HJ-NP-Za-km-z]{44}\n$/, step)
    }
  })

  it('reuses a VM step\'s result only while its image is the same build', slow, () => {
    const pointer = path.join(IMAGES, 'names', `memo-${process.pid}`)
    const digestOf = (name: string): string => readFileSync(path.join(IMAGES, 'names', name), 'utf8')
    const pipeline = path.join(work, 'memo.yml')
    writeFileSync(pipeline, `name: memo\nsteps:\n  look:\n    executor: vm\n    image: memo-${process.pid}\n    run: ls /usr/bin | grep -c . > {{ outputs.path }}/count\n`)
    const run = (): string => {
      const r = bac(['run', pipeline, '--outputs', path.join(work, 'out')], { env })
      assert.equal(r.code, 0, r.stderr)
      return r.stderr
    }
    try {
      writeFileSync(pointer, digestOf('base'))
      assert.match(run(), /look succeeded/)
      assert.match(run(), /look cached/)
      // the same name, another build: the step runs again
      writeFileSync(pointer, digestOf('python'))
      assert.match(run(), /look succeeded/)
    } finally {
      rmSync(pointer, { force: true })
    }
  })
})
