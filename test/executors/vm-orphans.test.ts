import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { linkImages } from '../helpers/images.js'
import { BAC_BIN as BIN } from '../helpers/paths.js'
import { processes } from '../helpers/processes.js'
import { until } from '../helpers/until.js'

const QEMU = '/usr/bin/qemu-system-x86_64'
const work = mkdtempSync(path.join(tmpdir(), 'bac-vm-orphans-'))
after(() => { rmSync(work, { recursive: true, force: true }) })

/** The QEMU processes whose command line names `text`. */
const vms = (text: string): number[] => processes((cmdline) => cmdline.startsWith(QEMU) && cmdline.includes(text))

/**
 * `bac run` of a VM step that sleeps, killed with SIGKILL once a VM of `phase` runs: no VM may
 * outlive it (the kernel kills each VM with the process that started it).
 */
async function killedWhile (images: string, phase: (cmdline: string) => boolean, what: string): Promise<void> {
  const file = path.join(work, 'sleeps.yml')
  writeFileSync(file, 'name: sleeps\nsteps:\n  wait:\n    executor: vm\n    run: sleep 120\n')
  const child = spawn(process.execPath, [BIN, 'run', file, '--no-cache'], {
    env: { ...process.env, BAC_HOME: path.join(work, 'home'), BAC_IMAGES: images },
    stdio: 'ignore'
  })
  try {
    await until(() => processes((c) => c.startsWith(QEMU) && c.includes(images) && phase(c)).length > 0, what, 120_000)
  } finally {
    child.kill('SIGKILL')
  }
  await until(() => vms(images).length === 0, `every VM of ${images} to end with bac`)
}

describe('a command started to die with bac', () => {
  it('is killed by the kernel when the process that started it is killed with SIGKILL (what keeps the KVM probe from outliving bac)', async () => {
    const marker = `62.${process.pid}`
    const lifeline = path.join(path.dirname(BIN), '..', '..', 'src', 'executors', 'vm', 'lifeline.ts')
    const code = `const { dyingWithBac } = await import(${JSON.stringify(lifeline)}); const { spawn } = await import('node:child_process');
      const c = dyingWithBac('/bin/sleep', ['${marker}']); spawn(c.file, c.args, { stdio: 'ignore', detached: true }).unref(); setInterval(() => {}, 1000)`
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: 'ignore' })
    const sleeping = (): number[] => processes((c) => c === `/bin/sleep\0${marker}\0`)
    await until(() => sleeping().length === 1, 'the command to start')
    parent.kill('SIGKILL')
    await until(() => sleeping().length === 0, 'the command to end with its parent')
  })
})

describe('no VM outlives bac', { skip: existsSync(QEMU) ? false : 'needs QEMU' }, () => {
  const images = path.join(work, 'images')
  linkImages(images, ['kernel', 'base'])

  it('the VM that saves a machine\'s ready state ends when bac is killed (kill -9) while it boots', async () => {
    await killedWhile(images, (c) => c.includes('/snapshots/.save-'), 'the state-saving VM to run')
    assert.deepEqual(vms(images), [])
  })

  it('a step\'s VM ends when bac is killed (kill -9) while the step runs', async () => {
    // the run saves the machine's ready state first (a cold boot), then starts the step's VM from it
    await killedWhile(images, (c) => c.includes('-incoming\0fd:5'), 'the step\'s VM to run')
    assert.deepEqual(vms(images), [])
  })
})
