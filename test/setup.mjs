#!/usr/bin/env node
// Installs the system packages the tests need, when they are missing (npm test runs this first).
// CI may run on a machine that has nothing installed by hand, so this is the only place they
// come from. Debian packages, installed with apt-get as root.
import { execFileSync, spawnSync } from 'node:child_process'

const NEEDED = [
  { command: 'ipfs_cid', pkg: 'ipfs-cid', why: 'checks that bac computes the same CIDs as Kubo' },
  { command: 'python3', pkg: 'python3', why: 'runs the shipped job scripts' },
  { command: 'bwrap', pkg: 'bubblewrap', why: 'the sandbox executor' },
  { command: 'ip', pkg: 'iproute2', why: 'network tests put nodes in network namespaces joined by veth' }
]

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
const missing = NEEDED.filter((n) => !has(n.command))
if (missing.length > 0) {
  const names = missing.map((m) => m.pkg)
  if (process.getuid?.() !== 0) {
    console.error(`test setup: missing ${names.join(', ')} (${missing.map((m) => m.why).join('; ')}); install with: sudo apt-get install -y ${names.join(' ')}`)
    process.exit(1)
  }
  console.log(`test setup: installing ${names.join(', ')} with apt-get`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...names], { stdio: 'inherit', env })
  const still = missing.filter((m) => !has(m.command))
  if (still.length > 0) {
    console.error(`test setup: ${still.map((m) => m.command).join(', ')} still missing after apt-get`)
    process.exit(1)
  }
}
