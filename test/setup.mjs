#!/usr/bin/env node
// Installs the system packages the tests need, when they are missing (npm test runs this first).
// CI may run on a machine that has nothing installed by hand, so this is the only place they
// come from. Debian packages, installed with apt-get as root.
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const NEEDED = [
  { command: 'ipfs_cid', pkg: 'ipfs-cid', why: 'checks that bac computes the same CIDs as Kubo' },
  { command: 'python3', pkg: 'python3', why: 'runs the shipped job scripts' },
  { command: 'bwrap', pkg: 'bubblewrap', why: 'the sandbox executor' },
  { command: 'ip', pkg: 'iproute2', why: 'network tests put nodes in network namespaces joined by veth' },
  { command: 'qemu-system-x86_64', pkg: 'qemu-system-x86', why: 'the vm executor' },
  { command: 'cpio', pkg: 'cpio', why: 'images/kernel packs the initramfs' },
  { command: 'strings', pkg: 'binutils', why: 'images/kernel reads module dependencies' },
  { command: 'xz', pkg: 'xz-utils', why: 'images/kernel unpacks the kernel' },
  { command: 'gcc', pkg: 'gcc', why: 'images/kernel builds the guest\'s entropy helper' },
  { command: 'libc.a', test: () => existsSync('/usr/lib/x86_64-linux-gnu/libc.a'), pkg: 'libc6-dev', why: 'images/kernel links the guest\'s entropy helper statically' },
  { command: 'mke2fs', pkg: 'e2fsprogs', why: 'VM root filesystems' },
  { command: 'skopeo', pkg: 'skopeo', why: 'bac image import reads OCI archives' },
  { command: 'umoci', pkg: 'umoci', why: 'bac image import unpacks OCI layers' },
  { command: 'debootstrap', pkg: 'debootstrap', why: 'images/python builds a Debian root filesystem' },
  { command: 'chromium', pkg: 'chromium', why: 'browser tests: web pages must not reach a node\'s API (driven by playwright-core; no browser is downloaded)' },
  // the images need busybox linked statically (Debian's busybox package is not)
  { command: 'busybox-static', test: () => spawnSync('sh', ['-c', 'dpkg-query -W -f=\'${Status}\' busybox-static | grep -q "ok installed"']).status === 0, pkg: 'busybox-static', why: 'the VM images\' tools' }
]

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
const present = (n) => n.test !== undefined ? n.test() : has(n.command)
const missing = NEEDED.filter((n) => !present(n))
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
  const still = missing.filter((m) => !present(m))
  if (still.length > 0) {
    console.error(`test setup: ${still.map((m) => m.command).join(', ')} still missing after apt-get`)
    process.exit(1)
  }
}

// The VM images the vm executor's tests boot: built once from images/ into .cache/images and
// built again when a recipe changes. Tests find them through $BAC_IMAGES (test/helpers/paths.ts).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const imagesDir = path.join(root, '.cache', 'images')
const builtFile = path.join(imagesDir, 'recipes.json')
const built = existsSync(builtFile) ? JSON.parse(readFileSync(builtFile, 'utf8')) : {}
const recipeHash = (dir) => {
  const hash = createHash('sha256')
  for (const file of readdirSync(dir).sort()) hash.update(`${file}\0`).update(readFileSync(path.join(dir, file)))
  return hash.digest('hex')
}
mkdirSync(imagesDir, { recursive: true })
let rebuilt = false
for (const recipe of ['kernel', 'base', 'python']) {
  const dir = path.join(root, 'images', recipe)
  const hash = recipeHash(dir)
  if (built[recipe] === hash && existsSync(path.join(imagesDir, 'names', recipe))) continue
  console.log(`test setup: building the VM image ${recipe} (images/${recipe})`)
  const started = Date.now()
  execFileSync(process.execPath, [path.join(root, 'dist', 'bin', 'bac.mjs'), 'image', 'build', dir, '--images', imagesDir, '--quiet'], { stdio: 'inherit' })
  console.log(`test setup: ${recipe} built in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  built[recipe] = hash
  writeFileSync(builtFile, `${JSON.stringify(built, null, 2)}\n`)
  rebuilt = true
}
// an image built again leaves its older build and the VM states saved from it behind
if (rebuilt) execFileSync(process.execPath, [path.join(root, 'dist', 'bin', 'bac.mjs'), 'image', 'prune', '--images', imagesDir], { stdio: 'inherit' })
