import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync, realpathSync, statSync, type BigIntStats } from 'node:fs'
import { lstat, open, realpath, stat, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import type { PathScope } from '../interfaces/content-store.js'
import { FileTooLargeError, NotRegularFileError, PathNotAllowedError, UnsafeContentError } from '../interfaces/errors.js'

/** What a path names, in words for an error message. */
export function kindOf (stats: Pick<BigIntStats, 'isFile' | 'isDirectory' | 'isFIFO' | 'isSocket' | 'isCharacterDevice' | 'isBlockDevice' | 'isSymbolicLink'>): string {
  if (stats.isFile()) return 'a file'
  if (stats.isDirectory()) return 'a folder'
  if (stats.isFIFO()) return 'a FIFO (named pipe)'
  if (stats.isSocket()) return 'a socket'
  if (stats.isCharacterDevice()) return 'a character device'
  if (stats.isBlockDevice()) return 'a block device'
  if (stats.isSymbolicLink()) return 'a symbolic link'
  return 'not a regular file'
}

export interface OpenFileOptions {
  /** Refuse a symbolic link as the last part of the path (ELOOP) instead of following it. */
  readonly nofollow?: boolean
  /** Leave the access time alone where the system allows it (the owner, or root). */
  readonly noatime?: boolean
  /**
   * Real folders the file must lie in, as opened (its descriptor's real path: links resolved, and
   * a link swapped in before the open is seen), else `PathNotAllowedError`.
   */
  readonly within?: PathScope
}

/**
 * The flags a file is opened with: read-only and non-blocking, so that a FIFO swapped in after
 * the check cannot block the opener (a regular file reads the same either way).
 */
function flags (options: OpenFileOptions, noatime: boolean): number {
  return constants.O_RDONLY | constants.O_NONBLOCK |
    (options.nofollow === true ? constants.O_NOFOLLOW : 0) |
    (noatime && constants.O_NOATIME !== undefined ? constants.O_NOATIME : 0)
}

function refuse (file: string, stats: Parameters<typeof kindOf>[0]): never {
  throw new NotRegularFileError(file, kindOf(stats))
}

/** A symbolic link met where `nofollow` refuses one, as the error the caller shows. */
function linkRefused (file: string, err: unknown): never {
  if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new NotRegularFileError(file, 'a symbolic link', { cause: err })
  throw err
}

const sameFile = (a: BigIntStats, b: BigIntStats): boolean => a.dev === b.dev && a.ino === b.ino

/**
 * Linux's O_PATH: a descriptor that names a file without opening it (no device is opened, no
 * FIFO blocks), which `fstat` can look at and `/proc/self/fd/<n>` can open for real, as the very
 * file it names. Elsewhere (no /proc), the path is checked, then opened non-blocking and checked again.
 */
const O_PATH = process.platform === 'linux' ? 0o10000000 : undefined

/** `openSync` with O_PATH: the file named (or the link itself with `nofollow`), not yet opened; undefined where O_PATH is not had. */
function nameSync (file: string, nofollow: boolean): number | undefined {
  if (O_PATH === undefined) return undefined
  try {
    return openSync(file, O_PATH | (nofollow ? constants.O_NOFOLLOW : 0))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EINVAL' || code === 'EOPNOTSUPP') return undefined
    throw err
  }
}

/**
 * Opens a regular file for reading; anything else (a folder, a FIFO, a socket, a device) is
 * refused with `NotRegularFileError` before it is opened, so a device is never opened and a FIFO
 * never blocks, even when a link is swapped in meanwhile: on Linux the file is first named
 * (O_PATH) and looked at, then that very file is opened through its descriptor; elsewhere the
 * path is checked, opened non-blocking and checked again. With `within`, the file as named must
 * lie in those folders. The caller closes the handle.
 */
export async function openRegularFile (file: string, options: OpenFileOptions = {}): Promise<{ handle: FileHandle, stats: BigIntStats }> {
  const named = nameSync(file, options.nofollow === true)
  let before: BigIntStats
  let target = file
  try {
    before = named !== undefined ? fstatSync(named, { bigint: true }) : await (options.nofollow === true ? lstat : stat)(file, { bigint: true })
    if (!before.isFile()) refuse(file, before)
    if (options.within !== undefined) assertInside(file, (named !== undefined ? openedPath(named) : undefined) ?? await realpath(file), options.within)
    if (named !== undefined) target = `/proc/self/fd/${named}`
    let handle: FileHandle
    try {
      handle = await open(target, flags(named !== undefined ? {} : options, options.noatime === true))
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      // O_NOATIME is for the file's owner (or root) only
      if (code === 'EPERM' && options.noatime === true) handle = await open(target, flags(named !== undefined ? {} : options, false))
      else linkRefused(file, err)
    }
    try {
      const stats = await handle.stat({ bigint: true })
      if (!stats.isFile()) refuse(file, stats)
      if (!sameFile(before, stats)) throw new UnsafeContentError(file, 'changed into another file while it was opened; try again')
      if (named === undefined && options.within !== undefined) assertInside(file, openedPath(handle.fd) ?? await realpath(file), options.within)
      return { handle, stats }
    } catch (err) {
      await handle.close()
      throw err
    }
  } finally {
    if (named !== undefined) closeSync(named)
  }
}

/** `openRegularFile`, synchronously: returns the file descriptor, which the caller closes. */
export function openRegularFileSync (file: string, options: OpenFileOptions = {}): { fd: number, stats: BigIntStats } {
  const named = nameSync(file, options.nofollow === true)
  try {
    const before = named !== undefined ? fstatSync(named, { bigint: true }) : (options.nofollow === true ? lstatSync : statSync)(file, { bigint: true })
    if (!before.isFile()) refuse(file, before)
    if (options.within !== undefined) assertInside(file, (named !== undefined ? openedPath(named) : undefined) ?? realpathSync(file), options.within)
    let fd: number
    try {
      fd = openSync(named !== undefined ? `/proc/self/fd/${named}` : file, flags(named !== undefined ? {} : options, false))
    } catch (err) {
      linkRefused(file, err)
    }
    try {
      const stats = fstatSync(fd, { bigint: true })
      if (!stats.isFile()) refuse(file, stats)
      if (!sameFile(before, stats)) throw new UnsafeContentError(file, 'changed into another file while it was opened; try again')
      if (named === undefined && options.within !== undefined) assertInside(file, openedPath(fd) ?? realpathSync(file), options.within)
      return { fd, stats }
    } catch (err) {
      closeSync(fd)
      throw err
    }
  } finally {
    if (named !== undefined) closeSync(named)
  }
}

/**
 * How much to read next: what the file's size says is left, and one byte more to see it grew
 * (at least 8 KiB, at most 1 MiB, never past `maxBytes` + 1), so a small file costs a small buffer.
 */
function chunkSize (size: bigint, total: number, maxBytes: number): number {
  return Math.min(1024 * 1024, maxBytes + 1 - total, Math.max(Number(size) + 1 - total, 8192))
}

/**
 * Reads a whole regular file of at most `maxBytes` (`FileTooLargeError` beyond, counted as it
 * is read, so a file that grows meanwhile is caught too). `what` names the file's purpose in
 * the error, e.g. "a pipeline".
 */
export async function readRegularFile (file: string, maxBytes: number, what: string, options: OpenFileOptions = {}): Promise<Buffer> {
  const { handle, stats } = await openRegularFile(file, options)
  try {
    if (stats.size > BigInt(maxBytes)) throw new FileTooLargeError(file, maxBytes, what)
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const chunk = Buffer.allocUnsafe(chunkSize(stats.size, total, maxBytes))
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null)
      if (bytesRead === 0) break
      total += bytesRead
      if (total > maxBytes) throw new FileTooLargeError(file, maxBytes, what)
      chunks.push(chunk.subarray(0, bytesRead))
    }
    return Buffer.concat(chunks, total)
  } finally {
    await handle.close()
  }
}

/** `readRegularFile`, synchronously. */
export function readRegularFileSync (file: string, maxBytes: number, what: string, options: OpenFileOptions = {}): Buffer {
  const { fd, stats } = openRegularFileSync(file, options)
  try {
    if (stats.size > BigInt(maxBytes)) throw new FileTooLargeError(file, maxBytes, what)
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const chunk = Buffer.allocUnsafe(chunkSize(stats.size, total, maxBytes))
      const bytesRead = readSync(fd, chunk, 0, chunk.length, null)
      if (bytesRead === 0) break
      total += bytesRead
      if (total > maxBytes) throw new FileTooLargeError(file, maxBytes, what)
      chunks.push(chunk.subarray(0, bytesRead))
    }
    return Buffer.concat(chunks, total)
  } finally {
    closeSync(fd)
  }
}

/**
 * Where an open file really is (symbolic links resolved), as the system says of its descriptor
 * (`/proc/self/fd` on Linux); undefined where the system does not say. Checking this after the
 * open, rather than the path before it, makes the check and the read one operation.
 */
export function openedPath (fd: number): string | undefined {
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`)
    return target.startsWith('/') && !target.endsWith(' (deleted)') ? target : undefined
  } catch {
    return undefined
  }
}

/** Whether `file` is `folder` or lies inside it (both absolute, normalized paths). */
export function isInside (file: string, folder: string): boolean {
  const relative = path.relative(folder, file)
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative))
}

/**
 * Refuses a real path outside the scope with `PathNotAllowedError`: in none of its roots, or in one
 * of its exceptions. `shown` is the path as the caller gave it, `allow` the folder the error
 * suggests allowing.
 */
export function assertInside (shown: string, real: string, scope: PathScope, allow = path.dirname(real)): void {
  const named = shown === real ? real : `${shown} (${real})`
  const own = scope.except?.find((folder) => isInside(real, folder))
  if (own !== undefined) throw new PathNotAllowedError(named, scope.roots, allow, `it lies in ${own}, which is the node's own (its data dir: its token, key, runs and content) and never allowed`)
  const root = scope.roots.find((r) => isInside(real, r))
  if (root === undefined) throw new PathNotAllowedError(named, scope.roots, allow)
  if (scope.noHidden === true && path.relative(root, real).split(path.sep).some((part) => part.startsWith('.'))) {
    throw new PathNotAllowedError(named, scope.roots, allow, 'a hidden file or folder (a name starting with .: .git, .env, .ssh) is never allowed')
  }
}
