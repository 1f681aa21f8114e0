import { randomBytes } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import type { ContentStore } from '../interfaces/content-store.js'

/**
 * A run's folders in the data dir: `runs/<id>/logs/<step>[.<item>]/<attempt>-<random>/` is kept
 * for `bac job logs`; `runs/<id>/work/` (attempt folders and the content steps read) is removed
 * when the run ends. Attempt folders sit one level under `work/`: every folder made costs a
 * step time, so none is made that holds only another folder.
 */
export class Workspace {
  private readonly fetched = new Map<string, Promise<string>>()
  private tmp: Promise<string> | undefined

  constructor (readonly root: string, private readonly store: ContentStore) {}

  /**
   * Fresh folders for one attempt. The name holds the attempt number and a random part, so an
   * attempt of a resumed run never writes into what an earlier (killed) attempt left.
   */
  attempt (stepId: string, item: number | undefined, attempt: number): { base: string, work: string, outputs: string, logs: string } {
    const instance = item === undefined ? stepId : `${stepId}.${item}`
    const name = `${attempt}-${randomBytes(3).toString('hex')}`
    const base = path.join(this.root, 'work', `${instance}.${name}`)
    return { base, work: `${base}.work`, outputs: `${base}.out`, logs: path.join(this.root, 'logs', instance, name) }
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

  /** The host path of a CID's content, written out once per run and shared by the steps. */
  async content (cid: string, signal?: AbortSignal): Promise<string> {
    let pending = this.fetched.get(cid)
    if (pending === undefined) {
      const target = path.join(this.root, 'work', 'ipfs', cid.replaceAll('/', '%2F'))
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

  async cleanup (): Promise<void> {
    this.tmp = undefined
    await rm(path.join(this.root, 'work'), { recursive: true, force: true })
  }
}
