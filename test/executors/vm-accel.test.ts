import assert from 'node:assert/strict'
import { accessSync, chmodSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { chooseAccel, rememberedAccel } from '../../src/executors/vm/accel.js'
import { processes } from '../helpers/processes.js'

const work = mkdtempSync(path.join(tmpdir(), 'bac-accel-'))
after(() => { rmSync(work, { recursive: true, force: true }) })
const kvm = ((): boolean => { try { accessSync('/dev/kvm', constants.R_OK | constants.W_OK); return true } catch { return false } })()
const QEMU = '/usr/bin/qemu-system-x86_64'

/** A "QEMU" that never answers: what a host whose KVM hangs a guest looks like to the probe. */
function hangingQemu (marker: string): string {
  const file = path.join(work, `qemu-${marker}`)
  writeFileSync(file, `#!/bin/sh\nexec sleep ${marker}\n`)
  chmodSync(file, 0o755)
  return file
}

describe('the vm executor\'s accelerator, chosen once per host boot', () => {
  it('is chosen by a probe, kept beside the saved states with why, and not probed again', async () => {
    const dir = path.join(work, 'states')
    const first = await chooseAccel(dir, QEMU, 'qemu 1')
    if (!kvm) assert.deepEqual([first.accel, first.reason], ['tcg', 'no /dev/kvm this user may open'])
    else assert.match(first.reason, first.accel === 'kvm' ? /a probe guest ran under KVM/ : /a probe guest did not run under it/)
    const kept = JSON.parse(readFileSync(path.join(dir, 'accel.json'), 'utf8')) as { host: { bootId: string } }
    assert.equal(kept.host.bootId, readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim())
    // the same host again: the kept choice, whatever QEMU would say now
    const again = await chooseAccel(dir, hangingQemu('60.1'), 'qemu 1')
    assert.deepEqual(again, first)
  })

  it('is chosen again after the host reboots, or with another QEMU', async () => {
    const dir = path.join(work, 'reboot')
    const first = await chooseAccel(dir, QEMU, 'qemu 1')
    assert.equal(rememberedAccel(dir, 'qemu 2'), undefined)
    const file = path.join(dir, 'accel.json')
    const kept = JSON.parse(readFileSync(file, 'utf8')) as { host: { bootId: string }, at: number }
    writeFileSync(file, JSON.stringify({ ...kept, host: { ...kept.host, bootId: 'another-boot' } }))
    assert.equal(rememberedAccel(dir, 'qemu 1'), undefined)
    const second = await chooseAccel(dir, QEMU, 'qemu 1')
    assert.equal(second.accel, first.accel)
    assert.ok(second.at >= kept.at)
  })

  it('gives a probe guest that never answers a second, then chooses emulation and leaves no process behind', { skip: kvm ? false : 'needs /dev/kvm to probe' }, async () => {
    const marker = `61.${process.pid}`
    const choice = await chooseAccel(path.join(work, 'hang'), hangingQemu(marker), 'qemu hang')
    assert.equal(choice.accel, 'tcg')
    assert.match(choice.reason, /did not run under it \(no answer within 1000 ms\)/)
    assert.deepEqual(processes((cmdline) => cmdline === `sleep\0${marker}\0`), [])
  })
})
