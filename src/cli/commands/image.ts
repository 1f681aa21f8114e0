import { defaultDataDir, openImages, vmAccelerator, type ImageInfo } from '../../index.js'
import { EXIT } from '../exit.js'
import type { Io } from '../io.js'

export interface ImageOptions { dataDir?: string, images?: string }

const where = (options: ImageOptions): { dataDir: string, imagesDir?: string } => ({
  dataDir: options.dataDir ?? defaultDataDir(),
  ...(options.images !== undefined ? { imagesDir: options.images } : {})
})

/** `bac image build <recipe>`: runs a recipe folder's build script and stores the image. */
export async function imageBuildCommand (recipe: string, options: ImageOptions & { name?: string, quiet?: boolean }, io: Io): Promise<number> {
  const images = await openImages(where(options))
  const info = await images.build(recipe, { ...(options.name !== undefined ? { name: options.name } : {}), ...(options.quiet === true ? {} : { onOutput: io.err }) })
  io.out(`${info.names.join(', ')} ${info.digest} (${info.kind}, ${megabytes(info.bytes)})\n`)
  return EXIT.ok
}

/** `bac image import <archive> --name <name>`: stores an OCI or docker archive as a root filesystem. */
export async function imageImportCommand (archive: string, options: ImageOptions & { name: string }, io: Io): Promise<number> {
  const images = await openImages(where(options))
  const info = await images.import(archive, options.name)
  io.out(`${info.names.join(', ')} ${info.digest} (${info.kind}, ${megabytes(info.bytes)})\n`)
  return EXIT.ok
}

/** `bac image list`: the stored images, newest last. */
export async function imageListCommand (options: ImageOptions & { json?: boolean }, io: Io): Promise<number> {
  const images = await openImages(where(options))
  const list = await images.list()
  if (options.json === true) {
    io.out(`${JSON.stringify(list.map(({ dir, ...rest }) => rest), null, 2)}\n`)
    return EXIT.ok
  }
  if (list.length === 0) {
    io.err(`no VM images in ${images.dir}; make them with: bac image build images/kernel && bac image build images/base\n`)
    return EXIT.ok
  }
  const accel = await vmAccelerator(where(options))
  const chosen = accel === undefined ? '' : new Date(accel.at).toISOString().slice(0, 19).replace('T', ' ')
  io.err(accel === undefined
    ? 'VMs here: no accelerator chosen yet since the host booted (the first VM step chooses it: KVM if a probe guest runs under it, in at most a second, else emulation)\n'
    : `VMs here use ${accel.accel === 'kvm' ? 'KVM' : 'QEMU emulation (tcg)'}: ${accel.reason}; chosen ${chosen} (probe ${accel.probeMs} ms), again after the host reboots\n`)
  const rows = list.map((i: ImageInfo) => [i.names.join(',') || '-', i.digest.slice(0, 19), i.kind, megabytes(i.bytes), i.created.slice(0, 19).replace('T', ' '), i.source])
  const header = ['NAME', 'DIGEST', 'KIND', 'SIZE', 'CREATED', 'SOURCE']
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)))
  for (const row of [header, ...rows]) io.out(`${row.map((cell, c) => c === row.length - 1 ? cell : (cell ?? '').padEnd(widths[c] ?? 0)).join('  ')}\n`)
  return EXIT.ok
}

/** `bac image prune [--states]`: removes unnamed images and saved states of no more use. */
export async function imagePruneCommand (options: ImageOptions & { states?: boolean }, io: Io): Promise<number> {
  const images = await openImages(where(options))
  const pruned = await images.prune({ allStates: options.states === true })
  io.out(`removed ${pruned.images.length} image${pruned.images.length === 1 ? '' : 's'} and ${pruned.states} saved VM state${pruned.states === 1 ? '' : 's'}, ${megabytes(pruned.bytes)}\n`)
  return EXIT.ok
}

function megabytes (bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
