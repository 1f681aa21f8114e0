import { randomBytes } from 'node:crypto'
import { mkdir, readdir, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import type { ContentStore } from '../interfaces/content-store.js'

/** An attempt's folders: `base` is the prefix of both, `<base>.work` and `<base>.out`. */
export interface AttemptFolders { base: string, work: string, outputs: string }

/**
 * A run's folders in the data dir: `runs/<id>/logs/<step>[.<item>]/<attempt>-<random>/` is kept
 * for `bac job logs`; `runs/<id>/work/` (attempt folders and the content steps read) is removed
 * when the run ends.
 *
 * Making a folder is one of the dearest parts of a short step, so attempt folders are made ahead,
 * in the background while steps run, and handed out ready: `work/a<n>-<random>.work` (the step's
 * working folder) and `.out` (its outputs). The random part means an attempt of a resumed run
 * never writes into what an earlier, killed attempt left.
 */
export class Workspace {
  private readonly fetched = new Map<string, Promise<string>>()
  private tmp: Promise<string> | undefined
  private readonly ready: AttemptFolders[] = []
  private filling: Promise<void> | undefined
  private made = 0
  private closed = false
  /** The permissions a folder made here gets (the run folder's, made the same way). */
  private folderMode: number | undefined

  /** `spare`: attempt folders kept made ahead (about the run's concurrency). */
  constructor (readonly root: string, private readonly store: ContentStore, private readonly spare = 2) {}

  private async make (): Promise<AttemptFolders> {
    const base = path.join(this.root, 'work', `a${++this.made}-${randomBytes(3).toString('hex')}`)
    await Promise.all([mkdir(`${base}.work`, { recursive: true }), mkdir(`${base}.out`, { recursive: true })])
    return { base, work: `${base}.work`, outputs: `${base}.out` }
  }

  private refill (): void {
    if (this.filling !== undefined || this.closed) return
    this.filling = (async () => {
      while (this.ready.length < this.spare && !this.closed) this.ready.push(await this.make())
    })()
      // a folder that cannot be made here is made (and its error reported) when an attempt asks
      .catch(() => {})
      .finally(() => { this.filling = undefined })
  }

  /**
   * Takes back an attempt's folders once its outputs are stored. Left empty (as a short step
   * leaves them) they are handed to a later attempt as they are: checking that a folder is empty
   * costs far less than removing it and making another. Anything else goes with the run's work.
   */
  async recycle (folders: AttemptFolders): Promise<void> {
    if (this.closed || this.ready.length >= this.spare * 2) return
    try {
      const [work, outputs, workMode, outputsMode] = await Promise.all([readdir(folders.work), readdir(folders.outputs), stat(folders.work), stat(folders.outputs)])
      // a step may have changed its folder's permissions: such a folder is not handed on
      this.folderMode ??= (await stat(this.root)).mode & 0o7777
      const fresh = this.folderMode
      const untouched = (workMode.mode & 0o7777) === fresh && (outputsMode.mode & 0o7777) === fresh
      if (work.length === 0 && outputs.length === 0 && untouched && !this.closed) this.ready.push({ base: folders.base, work: folders.work, outputs: folders.outputs })
    } catch {
      // gone or unreadable: it is left to the final cleanup
    }
  }

  /** Fresh, existing, empty folders for one attempt, and where its logs go. */
  async attempt (stepId: string, item: number | undefined, attempt: number): Promise<AttemptFolders & { logs: string }> {
    const folders = this.ready.shift() ?? await this.make()
    this.refill()
    const instance = item === undefined ? stepId : `${stepId}.${item}`
    return { ...folders, logs: path.join(this.root, 'logs', instance, `${attempt}-${path.basename(folders.base)}`) }
  }

  /** The run's folder for temporary files, shared by its steps as /tmp would be; made once. */
  async tmpDir (): Promise<string> {
    this.tmp ??= (async () => {
      const dir = path.join(this.root, 'work', 'tmp')
      await mkdir(dir, { recursive: true })
      return dir
    })()
    return await this.tmp
  }

  /** Where a CID's content is written out (it may not be yet). */
  contentPath (cid: string): string {
    return path.join(this.root, 'work', 'ipfs', cid.replaceAll('/', '%2F'))
  }

  /** The host path of a CID's content, written out once per run and shared by the steps. */
  async content (cid: string, signal?: AbortSignal): Promise<string> {
    let pending = this.fetched.get(cid)
    if (pending === undefined) {
      const target = this.contentPath(cid)
      pending = (async () => {
        await mkdir(path.dirname(target), { recursive: true })
        await this.store.get(cid, target, { signal })
        return target
      })()
      pending.catch(() => this.fetched.delete(cid))
      this.fetched.set(cid, pending)
    }
    return await pending
  }

  /** Removes the work folders; `final` stops making folders ahead (the run is over). */
  async cleanup (final = false): Promise<void> {
    this.closed = final
    await this.filling
    this.ready.length = 0
    this.tmp = undefined
    await rm(path.join(this.root, 'work'), { recursive: true, force: true })
  }
}
