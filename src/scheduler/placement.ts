import type { PeerInfo, StepNetwork } from '../interfaces/network.js'
import type { StepSpec } from '../interfaces/pipeline.js'
import type { Semaphore } from './semaphore.js'

/** Where an attempt runs: this node, or a peer. */
export type Place = { kind: 'local' } | { kind: 'peer', peer: PeerInfo }

/** Tasks a peer is sent beyond its slots at most (it queues them), so a big fan-out waits here. */
const QUEUE_PER_SLOT = 2

/** Whether labels satisfy `runs-on`: `gpu` needs the label, `zone=eu` needs that value. */
export function matchesLabels (labels: Readonly<Record<string, string>>, runsOn: readonly string[]): boolean {
  return runsOn.every((want) => {
    const eq = want.indexOf('=')
    if (eq < 0) return Object.hasOwn(labels, want)
    return labels[want.slice(0, eq)] === want.slice(eq + 1)
  })
}

/**
 * Picks the node of each attempt: among the nodes that can run the step (the executor, the
 * labels of `runs-on`, not avoided), the least loaded, this node first on a tie. When every
 * such node is full, waits until one has room.
 */
export class Placement {
  private readonly waiters = new Set<() => void>()
  private turn = 0
  /** Attempts picked for each peer (by peer id) and not ended yet: counted from the pick, before their dispatch. */
  private readonly held = new Map<string, number>()
  /** Attempts picked for this node and not ended yet (some may still wait for a slot). */
  private localHeld = 0

  constructor (private readonly network: StepNetwork, private readonly local: { nodeId: string, labels: Readonly<Record<string, string>>, slots: Semaphore }) {}

  /** The attempt picked for `place` has ended: its node has room again. */
  done (place: Place): void {
    if (place.kind === 'local') this.localHeld--
    else {
      const id = place.peer.advert.peerId
      const left = (this.held.get(id) ?? 1) - 1
      if (left <= 0) this.held.delete(id)
      else this.held.set(id, left)
    }
    this.changed()
  }

  /** Something changed (an attempt ended somewhere): waiting picks look again. */
  changed (): void {
    const waiting = [...this.waiters]
    this.waiters.clear()
    for (const wake of waiting) wake()
  }

  /** The peers a step may run on (its executor, image and `runs-on` labels): those whose cache may answer it too. */
  peersFor (step: StepSpec): PeerInfo[] {
    return this.eligible(step, new Set(), false).peers
  }

  private eligible (step: StepSpec, avoid: ReadonlySet<string>, localExecutor: boolean): { local: boolean, peers: PeerInfo[] } {
    const local = localExecutor && !avoid.has(this.local.nodeId) && matchesLabels(this.local.labels, step.runsOn)
    const peers = this.network.peers().filter((p) => !avoid.has(p.advert.peerId) &&
      p.advert.executors.includes(step.executor) &&
      holdsImage(p.advert.images, step) &&
      matchesLabels(p.advert.labels, step.runsOn))
    return { local, peers }
  }

  /**
   * The node for the next attempt, or undefined when no node can run the step at all. The node
   * is added to `used` (this node as its node id, a peer as its peer id) as it is picked.
   */
  async pick (step: StepSpec, used: Set<string>, failed: ReadonlySet<string>, localExecutor: boolean, signal?: AbortSignal): Promise<Place | undefined> {
    for (;;) {
      signal?.throwIfAborted()
      const { local, peers } = this.eligible(step, new Set([...used, ...failed]), localExecutor)
      if (!local && peers.length === 0) return undefined
      const localBusy = Math.max(this.local.slots.busy, this.localHeld)
      const localLoad = local && localBusy < this.local.slots.size ? localBusy / this.local.slots.size : Infinity
      let best: PeerInfo | undefined
      let bestLoad = Infinity
      // peers in turn, so equal loads spread
      const start = this.turn++
      for (let i = 0; i < peers.length; i++) {
        const p = peers[(start + i) % peers.length] as PeerInfo
        const slots = Math.max(1, p.advert.slots)
        const held = this.held.get(p.advert.peerId) ?? 0
        const busy = Math.max(held, p.dispatched, p.advert.running)
        if (Math.max(held, p.dispatched) >= slots * QUEUE_PER_SLOT) continue
        const load = busy / slots
        if (load < bestLoad) { best = p; bestLoad = load }
      }
      if (localLoad <= bestLoad && localLoad !== Infinity) {
        used.add(this.local.nodeId)
        this.localHeld++
        return { kind: 'local' }
      }
      if (best !== undefined) {
        used.add(best.advert.peerId)
        this.held.set(best.advert.peerId, (this.held.get(best.advert.peerId) ?? 0) + 1)
        return { kind: 'peer', peer: best }
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => { clearTimeout(timer); resolve() }
        // adverts change without an attempt ending here: look again now and then
        const timer = setTimeout(() => { this.waiters.delete(wake); resolve() }, 250)
        this.waiters.add(wake)
      })
    }
  }

  /** Why no node can run a step, in words. */
  whyNone (step: StepSpec, avoid: ReadonlySet<string>, localExecutor: boolean): string {
    const all = this.network.peers()
    const labels = step.runsOn.length > 0 ? ` labelled ${step.runsOn.join(', ')}` : ''
    const tried = avoid.size > 0 ? `, besides the ${avoid.size} already used or given up on` : ''
    const image = step.executor === 'vm' ? ` with the image '${step.image ?? DEFAULT_IMAGE}'` : ''
    const known = all.length === 0 ? 'this node has no trusted peers' : `of ${all.length + 1} nodes, none has the ${step.executor} executor${image}${labels}${tried}`
    const local = localExecutor ? '' : ` (this node lacks the ${step.executor} executor)`
    const build = image !== '' && all.length > 0 ? `, build it there (bac image build …)` : ''
    return `no node can run it: ${known}${local}; start more nodes (bac serve --peer …)${build} or change nodes/runs-on`
  }
}

/** The image a vm step boots when it names none (the vm executor's default). */
const DEFAULT_IMAGE = 'base'

/**
 * Whether a peer holds a vm step's image: by name, or by digest (a prefix of at least 12 hex
 * digits). A peer that does not say which images it holds (an older node) is not ruled out.
 */
function holdsImage (images: readonly string[] | undefined, step: StepSpec): boolean {
  if (step.executor !== 'vm' || images === undefined) return true
  const ref = step.image ?? DEFAULT_IMAGE
  const hex = /^(sha256:)?([0-9a-f]{12,64})$/.exec(ref)?.[2]
  return images.some((i) => i === ref || (hex !== undefined && i.startsWith(`sha256:${hex}`)))
}
