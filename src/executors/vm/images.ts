import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { ImageBuildError, ImageNotFoundError } from '../../interfaces/errors.js'
import { readOciConfig, type ImageConfig } from './oci-config.js'

const run = promisify(execFile)

/** What an image is: a kernel with its boot loader, or a root filesystem. */
export type ImageKind = 'kernel' | 'rootfs'

/** One stored image. Stored images never change: a new build is a new digest. */
export interface ImageInfo {
  /** `sha256:<hex>` of its files. */
  readonly digest: string
  readonly kind: ImageKind
  /** The names that point at it (a name points at one image; the last build or import wins). */
  readonly names: readonly string[]
  readonly bytes: number
  readonly created: string
  /** Where it came from: `build images/python`, `import app.tar`. */
  readonly source: string
  /** Its folder: `rootfs.ext4` (and `config.json` when imported), or `vmlinux`, `initrd` and `release`. */
  readonly dir: string
  /** What an imported image's OCI config asks of the steps run in it (Env, WorkingDir, User). */
  readonly config?: ImageConfig
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/

/**
 * The VM images of a node, content-addressed in one folder: `sha256-<hex>/` per image (its files
 * and `meta.json`), `names/<name>` holding a digest, `snapshots/` for saved machine states. Every
 * write lands in a temporary folder first and is renamed into place, so a failed build leaves
 * nothing behind and a reader never sees half an image.
 */
export class ImageStore {
  constructor (readonly dir: string) {}

  /** The image a name or digest (`sha256:<hex>`, or a unique prefix of at least 12 hex) points at. */
  async resolve (ref: string): Promise<ImageInfo> {
    const digest = await this.digestOf(ref)
    const info = digest === undefined ? undefined : await this.info(digest)
    if (info === undefined) throw new ImageNotFoundError(ref, this.dir)
    return info
  }

  /** The names and digests of the stored root filesystems, read now (for a node's advert). */
  heldSync (): string[] {
    const held: string[] = []
    try {
      for (const name of readdirSync(path.join(this.dir, 'names'))) {
        if (name.startsWith('.')) continue
        held.push(name, readFileSync(path.join(this.dir, 'names', name), 'utf8').trim())
      }
    } catch {}
    return [...new Set(held)]
  }

  async list (): Promise<ImageInfo[]> {
    const entries = await readdir(this.dir).catch(() => [] as string[])
    const infos = await Promise.all(entries.filter((e) => e.startsWith('sha256-')).map(async (e) => await this.info(`sha256:${e.slice(7)}`)))
    return infos.filter((i): i is ImageInfo => i !== undefined).sort((a, b) => a.created.localeCompare(b.created))
  }

  /**
   * Runs a recipe folder's `build` script with `OUT` set to an empty folder, and stores what it
   * made: `vmlinux` and `initrd` (a kernel), or `rootfs/` (turned into an ext4 filesystem).
   * The image is named after the recipe folder unless `name` is given.
   */
  async build (recipe: string, options: { name?: string, onOutput?: (text: string) => void } = {}): Promise<ImageInfo> {
    const script = path.join(recipe, 'build')
    if (!existsSync(script)) throw new ImageBuildError(`${recipe} is not an image recipe: it has no 'build' script`)
    const name = options.name ?? path.basename(path.resolve(recipe))
    checkName(name)
    const work = await this.scratch()
    try {
      const out = path.join(work, 'out')
      await mkdir(out)
      await runScript(script, out, options.onOutput)
      if (existsSync(path.join(out, 'vmlinux'))) {
        for (const file of ['vmlinux', 'initrd', 'release']) {
          if (!existsSync(path.join(out, file))) throw new ImageBuildError(`${script} made a vmlinux but no ${file}`)
          await rename(path.join(out, file), path.join(work, file))
        }
        return await this.store(work, 'kernel', name, `build ${recipe}`)
      }
      if (!existsSync(path.join(out, 'rootfs'))) throw new ImageBuildError(`${script} made neither $OUT/rootfs nor $OUT/vmlinux`)
      await makeExt4(path.join(out, 'rootfs'), path.join(work, 'rootfs.ext4'))
      return await this.store(work, 'rootfs', name, `build ${recipe}`)
    } finally {
      await rm(work, { recursive: true, force: true })
    }
  }

  /**
   * Stores an OCI image archive (`oci-archive`, as `skopeo copy` or `podman save --format
   * oci-archive` write) or a `docker save` archive as a root filesystem: skopeo copies it to an
   * OCI layout, umoci unpacks its layers, mke2fs makes the filesystem. No registry is asked.
   */
  async import (archive: string, name: string): Promise<ImageInfo> {
    checkName(name)
    if (!existsSync(archive)) throw new ImageBuildError(`cannot import ${archive}: no such file`)
    const work = await this.scratch()
    try {
      const layout = path.join(work, 'layout')
      const bundle = path.join(work, 'bundle')
      let copied: Error | undefined
      for (const transport of ['oci-archive', 'docker-archive']) {
        try {
          await run(tool('skopeo'), ['--insecure-policy', 'copy', '--quiet', `${transport}:${path.resolve(archive)}`, `oci:${layout}:bac`], { maxBuffer: 16 * 1024 * 1024 })
          copied = undefined
          break
        } catch (err) {
          copied = err as Error
          await rm(layout, { recursive: true, force: true })
        }
      }
      if (copied !== undefined) throw new ImageBuildError(`cannot read ${archive} as an OCI or docker archive: ${lastLine(copied)}`)
      try {
        await run(tool('umoci'), ['unpack', ...(process.getuid?.() === 0 ? [] : ['--rootless']), '--image', `${layout}:bac`, bundle], { maxBuffer: 16 * 1024 * 1024 })
      } catch (err) {
        throw new ImageBuildError(`cannot unpack the layers of ${archive}: ${lastLine(err as Error)}`)
      }
      const config = readOciConfig(realpathSync(layout), 'bac', realpathSync(path.join(bundle, 'rootfs')))
      await writeFile(path.join(work, 'config.json'), `${JSON.stringify(config, null, 2)}\n`)
      await makeExt4(path.join(bundle, 'rootfs'), path.join(work, 'rootfs.ext4'))
      await rm(layout, { recursive: true, force: true })
      await rm(bundle, { recursive: true, force: true })
      return await this.store(work, 'rootfs', name, `import ${path.basename(archive)}`)
    } finally {
      await rm(work, { recursive: true, force: true })
    }
  }

  /**
   * Removes what no name points at any more: images (an older build of a name), and the saved
   * machine states of images that are gone or unnamed (or every saved state, with `allStates`).
   */
  async prune (options: { allStates?: boolean } = {}): Promise<{ images: string[], states: number, bytes: number }> {
    const named = new Set<string>()
    for (const name of (await readdir(path.join(this.dir, 'names')).catch(() => [] as string[])).filter((n) => !n.startsWith('.'))) {
      named.add((await readFile(path.join(this.dir, 'names', name), 'utf8').catch(() => '')).trim())
    }
    let bytes = 0
    const images: string[] = []
    for (const info of await this.list()) {
      if (named.has(info.digest)) continue
      bytes += info.bytes
      images.push(info.digest)
      await rm(info.dir, { recursive: true, force: true })
    }
    let states = 0
    const snapshots = this.snapshotsDir()
    for (const entry of (await readdir(snapshots).catch(() => [] as string[])).filter((e) => e.endsWith('.state'))) {
      const file = path.join(snapshots, entry)
      const from = await readFile(file.replace(/\.state$/, '.json'), 'utf8').then((t) => JSON.parse(t) as { kernel?: string, image?: string }, () => undefined)
      if (options.allStates !== true && from?.kernel !== undefined && from.image !== undefined && named.has(from.kernel) && named.has(from.image)) continue
      bytes += (await stat(file)).size
      states++
      await rm(file, { force: true })
      await rm(file.replace(/\.state$/, '.json'), { force: true })
    }
    return { images, states, bytes }
  }

  /** A folder for saved machine states (a cache: deleting it costs one cold boot per machine size). */
  snapshotsDir (): string {
    return path.join(this.dir, 'snapshots')
  }

  private async scratch (): Promise<string> {
    await mkdir(this.dir, { recursive: true })
    return await mkdtemp(path.join(this.dir, '.tmp-'))
  }

  /** Moves a finished image folder into place under its digest and points the name at it. */
  private async store (work: string, kind: ImageKind, name: string, source: string): Promise<ImageInfo> {
    // an imported image's OCI config is part of it (and of its digest): steps honour it
    const files = kind === 'kernel' ? ['vmlinux', 'initrd', 'release'] : ['rootfs.ext4', ...(existsSync(path.join(work, 'config.json')) ? ['config.json'] : [])]
    const hash = createHash('sha256')
    let bytes = 0
    for (const file of files) {
      const full = path.join(work, file)
      bytes += (await stat(full)).size
      hash.update(`${file}\0`)
      for await (const chunk of createReadStream(full)) hash.update(chunk as Buffer)
    }
    const hex = hash.digest('hex')
    const digest = `sha256:${hex}`
    const final = path.join(this.dir, `sha256-${hex}`)
    const meta = { kind, bytes, created: new Date().toISOString(), source }
    if (!existsSync(final)) {
      const staged = path.join(work, 'image')
      await mkdir(staged)
      for (const file of files) await rename(path.join(work, file), path.join(staged, file))
      await writeFile(path.join(staged, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`)
      try {
        await rename(staged, final)
      } catch (err) {
        if (!existsSync(final)) throw err
      }
    }
    await this.name(name, digest)
    return await this.resolve(digest)
  }

  /** Points a name at a digest (atomically). */
  async name (name: string, digest: string): Promise<void> {
    checkName(name)
    const names = path.join(this.dir, 'names')
    await mkdir(names, { recursive: true })
    const temp = path.join(names, `.${name}.${process.pid}.tmp`)
    await writeFile(temp, `${digest}\n`)
    await rename(temp, path.join(names, name))
  }

  private async digestOf (ref: string): Promise<string | undefined> {
    const hex = /^(sha256:)?([0-9a-f]{12,64})$/.exec(ref)?.[2]
    if (hex !== undefined) {
      const entries = await readdir(this.dir).catch(() => [] as string[])
      const matches = entries.filter((e) => e.startsWith(`sha256-${hex}`))
      if (matches.length === 1) return `sha256:${(matches[0] as string).slice(7)}`
    }
    if (!NAME.test(ref)) return undefined
    const named = await readFile(path.join(this.dir, 'names', ref), 'utf8').catch(() => undefined)
    return named?.trim()
  }

  private async info (digest: string): Promise<ImageInfo | undefined> {
    const dir = path.join(this.dir, digest.replace(':', '-'))
    const meta = await readFile(path.join(dir, 'meta.json'), 'utf8').then((t) => JSON.parse(t) as { kind: ImageKind, bytes: number, created: string, source: string }, () => undefined)
    if (meta === undefined) return undefined
    const names = await readdir(path.join(this.dir, 'names')).catch(() => [] as string[])
    const pointing: string[] = []
    for (const name of names.filter((n) => !n.startsWith('.'))) {
      if ((await readFile(path.join(this.dir, 'names', name), 'utf8').catch(() => '')).trim() === digest) pointing.push(name)
    }
    const config = await readFile(path.join(dir, 'config.json'), 'utf8').then((t) => JSON.parse(t) as ImageConfig, () => undefined)
    return { digest, kind: meta.kind, names: pointing.sort(), bytes: meta.bytes, created: meta.created, source: meta.source, dir, ...(config !== undefined ? { config } : {}) }
  }
}

function checkName (name: string): void {
  if (!NAME.test(name)) throw new ImageBuildError(`'${name}' is not an image name: use lower-case letters, digits, '.', '_' and '-' (at most 64)`)
}

/** A system tool, or a clear error naming the Debian package that has it. */
function tool (name: 'skopeo' | 'umoci' | 'mke2fs'): string {
  for (const dir of ['/usr/bin', '/usr/sbin', '/sbin', '/bin', '/usr/local/bin']) {
    if (existsSync(path.join(dir, name))) return path.join(dir, name)
  }
  const pkg = name === 'mke2fs' ? 'e2fsprogs' : name
  throw new ImageBuildError(`making VM images needs ${name}: apt-get install ${pkg}`)
}

function lastLine (err: Error): string {
  const stderr = (err as { stderr?: string }).stderr ?? err.message
  return stderr.trim().split('\n').filter((l) => l.trim() !== '').at(-1) ?? 'unknown error'
}

/** An ext4 filesystem holding a folder, sized to it with room for the journal-less metadata. */
async function makeExt4 (rootfs: string, file: string): Promise<void> {
  const { stdout } = await run('du', ['-s', '--block-size=1M', rootfs])
  const usedMiB = Number(stdout.split('\t')[0] ?? '0')
  const sizeMiB = Math.max(16, Math.ceil(usedMiB * 1.25) + 16)
  try {
    await run(tool('mke2fs'), ['-q', '-t', 'ext4', '-O', '^has_journal', '-E', 'root_owner=0:0', '-L', 'bac', '-d', rootfs, file, `${sizeMiB}M`], { maxBuffer: 16 * 1024 * 1024 })
  } catch (err) {
    throw new ImageBuildError(`cannot make an ext4 filesystem of ${rootfs}: ${lastLine(err as Error)}`)
  }
}

/** Runs a recipe's build script, passing its output on; fails with its last lines. */
async function runScript (script: string, out: string, onOutput?: (text: string) => void): Promise<void> {
  const { spawn } = await import('node:child_process')
  const tail: string[] = []
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(script, [], { env: { ...process.env, OUT: out }, stdio: ['ignore', 'pipe', 'pipe'] })
    const take = (chunk: Buffer): void => {
      const text = chunk.toString()
      onOutput?.(text)
      tail.push(...text.split('\n').filter((l) => l.trim() !== ''))
      tail.splice(0, Math.max(0, tail.length - 5))
    }
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    child.on('error', reject)
    child.on('close', resolve)
  }).catch((err: Error) => { throw new ImageBuildError(`cannot run ${script}: ${err.message}`) })
  if (code !== 0) throw new ImageBuildError(`${script} failed (exit ${String(code)}):\n  ${tail.join('\n  ')}`)
}
