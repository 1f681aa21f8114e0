// bench/vm-cli: a two-step VM pipeline run as the user runs it, a fresh `bac run` process each
// time (3 times), against the same pipeline on the process executor in the same run: each step's
// time from the run's events, and the whole command's. The first VM step of a process pays what a
// process pays once (the accelerator, chosen once per host boot and kept; the saved state, kept).
// Also the probe that chooses the accelerator, in a folder of its own (what a fresh boot pays once).
// Uses the images test setup builds (.cache/images, or $BAC_IMAGES); run bench/vm first if they are missing.
import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchDir } from './work-dir.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const images = process.env.BAC_IMAGES ?? path.join(ROOT, '.cache', 'images')
if (!existsSync(path.join(images, 'names', 'kernel')) || !existsSync('/usr/bin/qemu-system-x86_64')) {
  console.log(`skipped: needs QEMU and the kernel and base images in ${images} (npm test's setup builds them)`)
  process.exit(0)
}
const work = benchDir('bac-bench-vm-cli')
const file = path.join(work, 'vm2.yml')
writeFileSync(file, 'name: vm2\nsteps:\n  a:\n    executor: vm\n    run: echo a > {{ outputs.path }}/a.txt\n  b:\n    needs: [a]\n    executor: vm\n    run: cat {{ steps.a.outputs.path }}/a.txt > {{ outputs.path }}/b.txt\n')
const env = { ...process.env, BAC_HOME: path.join(work, 'home'), BAC_IMAGES: images }

function run (extra) {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'bin', 'bac.mjs'), 'run', file, '--no-cache', '--json', '--outputs', path.join(work, 'out'), ...extra], { env, encoding: 'utf8' })
  const total = performance.now() - t0
  if (r.status !== 0) throw new Error(r.stderr)
  const steps = Object.fromEntries(r.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'step:end').map((e) => [e.stepId, e.durationMs]))
  return { a: steps.a, b: steps.b, total }
}

const vm = []
const plain = []
for (let i = 0; i < 3; i++) {
  vm.push(run([]))
  plain.push(run(['--executor', 'process']))
}
const { chooseAccel } = await import(path.join(ROOT, 'dist', 'executors', 'vm', 'accel.js'))
const t0 = performance.now()
const choice = await chooseAccel(path.join(work, 'probe'), '/usr/bin/qemu-system-x86_64', 'bench')
const probe = performance.now() - t0
const fmt = (xs, k) => xs.map((x) => `${Math.round(x[k])}`).join(', ')
console.log(`fresh bac run, 3 times: vm step a (the first of each process) ${fmt(vm, 'a')} ms, step b ${fmt(vm, 'b')} ms; whole command ${fmt(vm, 'total')} ms`)
console.log(`the same on the process executor: step a ${fmt(plain, 'a')} ms, step b ${fmt(plain, 'b')} ms; whole command ${fmt(plain, 'total')} ms`)
const worst = Math.max(...vm.map((x) => Math.max(x.a, x.b)))
console.log(`slowest VM step ${Math.round(worst)} ms (target < 1000 ms); first vs later VM step ${(vm.reduce((s, x) => s + x.a, 0) / vm.reduce((s, x) => s + x.b, 0)).toFixed(2)}x`)
console.log(`choosing the accelerator on a fresh boot: ${Math.round(probe)} ms (${choice.accel}: ${choice.reason.slice(0, 120)})`)
