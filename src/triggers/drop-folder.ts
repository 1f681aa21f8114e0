import { existsSync, lstatSync, mkdirSync, renameSync, statSync, unlinkSync, type BigIntStats } from 'node:fs'
import { lstat, mkdir, opendir, realpath, stat, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import picomatch from 'picomatch'
import { OpenWriters } from './open-writers.js'
import type { ContentStore } from '../interfaces/content-store.js'
import type { RunOutcome } from '../interfaces/engine.js'
import type { WatchTrigger } from '../interfaces/pipeline.js'
import { hasEnded, type RunStatus } from '../interfaces/run-store.js'
import { isInside, openedPath, openRegularFile } from '../common/files.js'
import { UnsafeContentError, UserError } from '../interfaces/errors.js'
import { takeOnce, type TriggerInit } from './take.js'
import { logger } from '../common/log.js'

const log = logger('triggers')

/** What a drop folder reports, for the CLI and the node's log. */
export type WatchEvent =
  | { readonly type: 'watch:ready', readonly pipeline: string, readonly folder: string }
  | { readonly type: 'file:taken', readonly pipeline: string, readonly path: string, readonly cid: string, readonly runId: string }
  | { readonly type: 'file:skipped', readonly pipeline: string, readonly path: string, readonly runId: string, readonly reason: string }
  | { readonly type: 'file:settled', readonly pipeline: string, readonly path: string, readonly action: 'moved' | 'deleted' | 'kept', readonly to?: string }
  | { readonly type: 'file:error', readonly pipeline: string, readonly path: string, readonly message: string }

/** `pipeline` is one with `on.watch`. */
export interface DropFolderInit extends TriggerInit {
  readonly store: ContentStore
  readonly onEvent?: (event: WatchEvent) => void
  /** Files looked at, at most, at once; more are found again by a rescan. @default 512 */
  readonly maxPending?: number
  /** Files read into the store at once. @default 4 */
  readonly takeConcurrency?: number
}

/** Names a download or an editor uses while it writes; never taken, whatever the glob. */
const PARTIAL = /(\.part|\.partial|\.crdownload|\.download|\.tmp|\.swp|~)$/i

/** How long the follow-up of ended runs (moving their files) is gathered before it is done. */
const SETTLE_BATCH_MS = 250
const SETTLE_BATCH_MAX_MS = 2000

interface Pending {
  stamp: string
  since: number
  timer?: NodeJS.Timeout
  taking: boolean
}

const stampOf = (st: BigIntStats): string => `${st.size}:${st.mtimeNs}:${st.ino}`

/**
 * A pipeline's drop folder: each new, fully written file matching the glob starts one run, exactly
 * once. The ledger in the run store (pipeline, path, content CID) says what was taken; a run is
 * queued in the same transaction as its ledger entry, so a crash at any point neither loses a file
 * nor runs one twice. Files present at start (arrived while bac was down) are taken too.
 *
 * A file is ready at once when it was renamed or moved in (its change time is later than its
 * last write, or its last write is older than `stable`); a file written in place is ready once
 * its size and mtime have held for `stable`. Either way, not while a process holds it open for
 * writing (Linux's /proc, for the processes bac's user may look at): it is looked at again after
 * `stable`. Its content is added to the store before the run is
 * queued, so the run sees exactly that content whatever happens to the file afterwards.
 *
 * Memory does not grow with the number of files waiting: at most `maxPending` are looked at; the
 * events beyond are dropped and the folder is rescanned (streamed) once there is room.
 */
export class DropFolder {
  private readonly watch: WatchTrigger
  private readonly pending = new Map<string, Pending>()
  private readonly writers = new OpenWriters()
  private readonly matches: (relative: string) => boolean
  private readonly maxPending: number
  private readonly takeConcurrency: number
  private readonly takeQueue: string[] = []
  private taking = 0
  private overflow = false
  private scanning = false
  private watcher: import('chokidar').FSWatcher | undefined
  private closed = false
  private readonly roomWaiters: Array<() => void> = []
  private readonly toSettle: Array<{ file: string, cid: string, status: RunStatus }> = []
  private settleTimer: NodeJS.Timeout | undefined
  /** Files taken by this watcher whose run has not ended: about how many wait in the folder. */
  private outstanding = 0
  /** Files refused (a link out of the folder, a hard link…), by how they looked then: reported once, looked at again when they change. */
  private readonly refused = new Map<string, string>()

  constructor (private readonly init: DropFolderInit) {
    const watch = init.pipeline.on.watch
    if (watch === undefined) throw new Error(`pipeline ${init.pipeline.name} has no on.watch`)
    this.watch = watch
    const glob = picomatch(watch.glob, { dot: false, basename: true })
    this.matches = (relative) => !PARTIAL.test(relative) && glob(relative)
    this.maxPending = init.maxPending ?? 512
    this.takeConcurrency = init.takeConcurrency ?? 4
  }

  get folder (): string { return this.watch.path }

  /** The pipeline whose drop folder this is. */
  get pipeline (): DropFolderInit['pipeline'] { return this.init.pipeline }

  /** Finishes what a crash left (moves files whose run ended), then watches the folder. */
  async start (): Promise<void> {
    await mkdir(this.watch.path, { recursive: true })
    await this.settleEnded()
    const { watch } = await import('chokidar')
    const watcher = watch(this.watch.path, {
      ignoreInitial: false,
      persistent: true,
      depth: this.watch.recursive ? undefined : 0,
      ignorePermissionErrors: true,
      // a link is looked at as a link: what it points to is checked when the file is taken
      followSymlinks: false,
      // files not matching the glob are not watched at all
      ignored: (file, stats) => stats?.isFile() === true && !this.matches(this.relative(file))
    })
    this.watcher = watcher
    watcher.on('add', (file: string) => { this.consider(file) })
    watcher.on('change', (file: string) => { this.consider(file) })
    // the raw event comes before chokidar has read the folder again: a renamed-in file starts sooner
    watcher.on('raw', (event: string, name: string | null, details: unknown) => {
      const watched = (details as { watchedPath?: string } | undefined)?.watchedPath
      if (event === 'rename' && typeof name === 'string' && name !== '' && watched !== undefined) {
        const file = path.basename(watched) === name ? watched : path.join(watched, name)
        if (file !== this.watch.path && this.matches(this.relative(file))) this.consider(file)
      }
    })
    watcher.on('error', (err: unknown) => { this.report({ type: 'file:error', pipeline: this.init.pipeline.name, path: this.watch.path, message: err instanceof Error ? err.message : String(err) }) })
    await new Promise<void>((resolve) => watcher.once('ready', () => { resolve() }))
    this.report({ type: 'watch:ready', pipeline: this.init.pipeline.name, folder: this.watch.path })
  }

  async stop (): Promise<void> {
    clearTimeout(this.settleTimer)
    this.settleTimer = undefined
    this.flushSettles()
    this.closed = true
    for (const entry of this.pending.values()) clearTimeout(entry.timer)
    this.pending.clear()
    for (const resolve of this.roomWaiters.splice(0)) resolve()
    await this.watcher?.close()
  }

  /** Whether nothing is being looked at or taken (the run queue may still have work). */
  get quiet (): boolean {
    return this.pending.size === 0 && !this.scanning && !this.overflow
  }

  /**
   * What follows a run: moves its file to `processed/` or `failed/` beside the folder, deletes it
   * after a success, or keeps it, as `on.watch.after` says; then marks the ledger entry settled.
   */
  ended (outcome: RunOutcome): void {
    const record = this.init.runs.getRun(outcome.runId)
    const file = record?.trigger.file as { path?: string, cid?: string } | undefined
    if (record?.trigger.kind !== 'watch' || file?.path === undefined || file.cid === undefined) return
    // an interrupted run is taken up again at the next start: its file stays where it is
    if (outcome.status !== 'succeeded' && outcome.status !== 'failed' && outcome.status !== 'cancelled') return
    // once stopped, the next start does it (it settles what ended before it)
    if (this.closed) return
    this.outstanding = Math.max(0, this.outstanding - 1)
    this.toSettle.push({ file: file.path, cid: file.cid, status: outcome.status })
    // moved in batches: each change to the folder makes chokidar read all of it again, so during
    // a burst one read per batch, rather than one per file, keeps the watcher off the CPU
    // (the more files wait in the folder, the longer a read, the larger the batch)
    this.settleTimer ??= setTimeout(() => {
      this.settleTimer = undefined
      this.flushSettles()
    }, Math.min(SETTLE_BATCH_MAX_MS, Math.max(SETTLE_BATCH_MS, this.outstanding / 4)))
  }

  private flushSettles (): void {
    const batch = this.toSettle.splice(0)
    if (batch.length === 0) return
    this.init.runs.atomically(() => { for (const { file, cid, status } of batch) this.settle(file, cid, status) })
  }

  private relative (file: string): string {
    return path.relative(this.watch.path, file).split(path.sep).join('/')
  }

  private report (event: WatchEvent): void {
    const { type, ...fields } = event
    log.debug(type, fields)
    this.init.onEvent?.(event)
  }

  private consider (file: string): void {
    if (this.closed) return
    const known = this.pending.get(file)
    if (known !== undefined) return
    if (this.pending.size >= this.maxPending) {
      this.overflow = true
      return
    }
    this.pending.set(file, { stamp: '', since: 0, taking: false })
    void this.check(file)
  }

  private forget (file: string): void {
    const entry = this.pending.get(file)
    if (entry !== undefined) clearTimeout(entry.timer)
    this.pending.delete(file)
    if (this.pending.size < this.maxPending / 2) {
      for (const resolve of this.roomWaiters.splice(0)) resolve()
      if (this.overflow && !this.scanning) void this.rescan()
    }
  }

  /** Looks at a file: gone, taken before, ready, or to be looked at again after `stable`. */
  private async check (file: string): Promise<void> {
    const entry = this.pending.get(file)
    if (entry === undefined || entry.taking || this.closed) return
    let st: BigIntStats
    try {
      st = await stat(file, { bigint: true })
    } catch {
      this.forget(file)
      return
    }
    if (!st.isFile()) { this.forget(file); return }
    const stamp = stampOf(st)
    if (this.refused.has(file) && this.refused.get(file) === await linkStamp(file, stamp)) { this.forget(file); return }
    const { pipeline, runs } = this.init
    if (runs.takenByStamp(pipeline.name, `file:${file}`, stamp) !== undefined) { this.forget(file); return }
    const now = Date.now()
    const stableNs = BigInt(this.watch.stableMs) * 1_000_000n
    const ready = st.ctimeNs > st.mtimeNs ||
      BigInt(now) * 1_000_000n - st.mtimeNs >= stableNs ||
      (entry.stamp === stamp && now - entry.since >= this.watch.stableMs)
    // a file some process still holds open for writing is not complete, however still it looks
    // (a writer that pauses longer than stable, or a watcher that looks late)
    const held = ready && await this.writers.holds(await realpath(file).catch(() => file))
    if (this.pending.get(file) !== entry || entry.taking || this.closed) return
    if (ready && !held) {
      entry.taking = true
      this.takeQueue.push(file)
      this.pump()
      return
    }
    if (entry.stamp !== stamp || held) {
      entry.stamp = stamp
      entry.since = now
    }
    clearTimeout(entry.timer)
    entry.timer = setTimeout(() => { void this.check(file) }, Math.max(1, entry.since + this.watch.stableMs - now))
  }

  private pump (): void {
    while (this.taking < this.takeConcurrency && this.takeQueue.length > 0) {
      const file = this.takeQueue.shift() as string
      this.taking++
      void this.take(file).finally(() => {
        this.taking--
        this.pump()
      })
    }
  }

  /**
   * Opens a dropped file for reading, refusing what would read bytes from outside the folder: a
   * symbolic link whose target lies outside it, a hard link (a file with other names, which may
   * be elsewhere), anything but a regular file. The check is made on the file as opened (its
   * descriptor's real path), so a file swapped for a link after the check is not followed.
   */
  private async openDropped (file: string): Promise<{ handle: FileHandle, stats: BigIntStats }> {
    const folder = await realpath(this.watch.path)
    let target = file
    if ((await lstat(file)).isSymbolicLink()) {
      target = await realpath(file)
      if (!isInside(target, folder)) throw new UnsafeContentError(file, `is a link to ${target}, outside the drop folder: links are taken only to files inside it`)
    }
    const opened = await openRegularFile(target, { nofollow: true, noatime: true })
    try {
      const real = openedPath(opened.handle.fd)
      if (real !== undefined && !isInside(real, folder)) throw new UnsafeContentError(file, `is ${real} as opened, outside the drop folder: not taken`)
      if (opened.stats.nlink > 1n) throw new UnsafeContentError(file, `has ${opened.stats.nlink} names (hard links), and may be a file from elsewhere: copy it in rather than link it`)
      return opened
    } catch (err) {
      await opened.handle.close()
      throw err
    }
  }

  /** Adds the file to the store, then records it in the ledger and queues its run, atomically. */
  private async take (file: string): Promise<void> {
    const { pipeline, runs, store } = this.init
    const entry = this.pending.get(file)
    if (entry === undefined || this.closed) return
    try {
      const { handle, stats: before } = await this.openDropped(file)
      let cid: string
      let after: BigIntStats
      try {
        // the bytes read are those of the file opened and checked, whatever the name points to now
        cid = await store.addBytes(handle.createReadStream({ autoClose: false, start: 0 }))
        after = await handle.stat({ bigint: true })
      } finally {
        await handle.close()
      }
      const stamp = stampOf(after)
      if (stamp !== stampOf(before)) {
        // it changed while it was read: look again once it holds still
        entry.taking = false
        entry.stamp = stamp
        entry.since = Date.now()
        clearTimeout(entry.timer)
        entry.timer = setTimeout(() => { void this.check(file) }, this.watch.stableMs)
        return
      }
      const name = path.basename(file)
      const input = this.watch.input
      const { runId, earlier } = takeOnce(this.init, { source: `file:${file}`, key: cid, stamp }, {
        trigger: { kind: 'watch', file: { path: file, name, size: Number(after.size), cid } },
        ...(input !== undefined ? { inputs: { [input]: { cid, name } } } : {})
      })
      this.forget(file)
      if (earlier === undefined) {
        this.outstanding++
        this.report({ type: 'file:taken', pipeline: pipeline.name, path: file, cid, runId })
        return
      }
      this.report({ type: 'file:skipped', pipeline: pipeline.name, path: file, runId: earlier, reason: `the same content was run as ${earlier}` })
      // the same file again: it goes where the first one went, once that run has ended
      const status = runs.getRun(earlier)?.status
      if (hasEnded(status)) this.settle(file, cid, status)
    } catch (err) {
      this.forget(file)
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return
      if (err instanceof UserError) {
        const seen = await stat(file, { bigint: true }).then(async (st) => await linkStamp(file, stampOf(st)), () => undefined)
        if (seen !== undefined) {
          if (this.refused.size >= 10_000) this.refused.clear()
          this.refused.set(file, seen)
        }
      }
      this.report({ type: 'file:error', pipeline: pipeline.name, path: file, message: `cannot take it: ${err instanceof Error ? err.message : String(err)}; it is looked at again when it changes` })
    }
  }

  /**
   * Moves, deletes or keeps a file whose run ended, unless the file there is no longer that one.
   * Synchronous on purpose: a batch of them changes the folder within one turn of the event loop,
   * so the watcher sees one burst of changes, not one change at a time.
   */
  private settle (file: string, cid: string, status: RunStatus): void {
    const { pipeline, runs } = this.init
    const source = `file:${file}`
    const after = this.watch.after
    try {
      let st: BigIntStats | undefined
      try {
        st = statSync(file, { bigint: true })
      } catch {
        st = undefined
      }
      const entry = st === undefined ? undefined : runs.takenByStamp(pipeline.name, source, stampOf(st))
      if (st === undefined || entry?.key !== cid || after === 'keep' || (after === 'delete' && status !== 'succeeded')) {
        runs.settle(pipeline.name, source, cid)
        return
      }
      if (after === 'delete') {
        unlinkSync(file)
        runs.settle(pipeline.name, source, cid)
        this.report({ type: 'file:settled', pipeline: pipeline.name, path: file, action: 'deleted' })
        return
      }
      const base = path.join(path.dirname(this.watch.path), status === 'succeeded' ? 'processed' : 'failed')
      const target = freeName(path.join(base, path.relative(this.watch.path, file)), entry.runId)
      ownFolders(base, path.dirname(target))
      renameSync(file, target)
      runs.settle(pipeline.name, source, cid)
      this.report({ type: 'file:settled', pipeline: pipeline.name, path: file, action: 'moved', to: target })
    } catch (err) {
      this.report({
        type: 'file:error',
        pipeline: pipeline.name,
        path: file,
        message: `cannot ${after} it after its run: ${err instanceof Error ? err.message : String(err)}; it is tried again at the next start`
      })
    }
  }

  /** At start: the follow-up of runs that ended while (or just before) bac went down. */
  private async settleEnded (): Promise<void> {
    for (const entry of this.init.runs.unsettled(this.init.pipeline.name, 'file:')) {
      if (hasEnded(entry.status)) {
        this.settle(entry.source.slice('file:'.length), entry.key, entry.status)
      }
    }
  }

  /** After dropped events: walks the folder, taking every file not taken yet, with bounded memory. */
  private async rescan (): Promise<void> {
    this.scanning = true
    try {
      while (this.overflow && !this.closed) {
        this.overflow = false
        await this.walk(this.watch.path)
      }
    } finally {
      this.scanning = false
    }
  }

  private async walk (folder: string): Promise<void> {
    let dir
    try {
      dir = await opendir(folder, { bufferSize: 64 })
    } catch {
      return
    }
    for await (const dirent of dir) {
      if (this.closed) return
      const file = path.join(folder, dirent.name)
      if (dirent.isDirectory()) {
        if (this.watch.recursive) await this.walk(file)
        continue
      }
      if (!(dirent.isFile() || dirent.isSymbolicLink()) || this.pending.has(file) || !this.matches(this.relative(file))) continue
      while (this.pending.size >= this.maxPending && !this.closed) await new Promise<void>((resolve) => this.roomWaiters.push(resolve))
      this.consider(file)
    }
  }
}

/**
 * Makes (or checks) the folders from `base` down to `folder` so that a file moved there goes where
 * it says: each a real folder (no link), of this user or root, not writable by everyone; and
 * `base` in a folder others cannot swap it out of (not writable by everyone, or sticky as /tmp
 * is). Another user's `processed` link beside a shared drop folder is refused, not followed.
 */
function ownFolders (base: string, folder: string): void {
  const uid = process.getuid?.()
  const parent = lstatSync(path.dirname(base))
  if ((parent.mode & 0o002) !== 0 && (parent.mode & 0o1000) === 0) {
    throw new UnsafeContentError(path.dirname(base), 'is writable by everyone and not sticky: what is moved there could be moved on by anyone')
  }
  const parts = path.relative(base, folder).split(path.sep).filter((p) => p !== '')
  let current = base
  for (const part of ['', ...parts]) {
    current = part === '' ? base : path.join(current, part)
    try {
      mkdirSync(current, { mode: 0o755 })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const info = lstatSync(current)
    if (info.isSymbolicLink() || !info.isDirectory()) {
      throw new UnsafeContentError(current, `is ${info.isSymbolicLink() ? 'a link' : 'not a folder'}: files are moved only into real folders of bac's user`)
    }
    if ((uid !== undefined && info.uid !== uid && info.uid !== 0) || (info.mode & 0o002) !== 0) {
      throw new UnsafeContentError(current, 'belongs to another user, or everyone may write it: files are moved only into folders of bac\'s user')
    }
  }
}

/** How a name looks: the file it reaches (size, mtime, inode) and, for a link, the link itself. */
async function linkStamp (file: string, target: string): Promise<string> {
  const own = await lstat(file, { bigint: true }).catch(() => undefined)
  return own?.isSymbolicLink() === true ? `${target}|link:${own.ino}:${own.mtimeNs}` : target
}

/** `target`, or when something is there already, `name.<run-id>.ext` beside it. */
function freeName (target: string, runId: string): string {
  if (!existsSync(target)) return target
  const ext = path.extname(target)
  return path.join(path.dirname(target), `${path.basename(target, ext)}.${runId}${ext}`)
}
