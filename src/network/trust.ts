import { statSync } from 'node:fs'
import path from 'node:path'
import type { Multiaddr } from '@multiformats/multiaddr'
import { readRegularFileSync } from '../common/files.js'

export interface TrustInit {
  /** The node's data dir: `<dataDir>/trusted-peers` lists peer ids, one a line (`#` starts a comment). */
  readonly dataDir: string
  /** Peer ids trusted on the command line (`--trust`). */
  readonly peers?: readonly string[]
  /** Trust any peer that connects from a loopback address (`--dev`, and what devstack uses). */
  readonly loopback?: boolean
}

/** Whether an address is on this host: 127.0.0.0/8 or ::1. */
export function isLoopback (addr: Multiaddr): boolean {
  for (const c of addr.getComponents()) {
    if (c.name === 'ip4') return c.value?.startsWith('127.') === true
    if (c.name === 'ip6') return c.value === '::1'
  }
  return false
}

/**
 * Which peers a node runs work for and sends work to. The `trusted-peers` file is read again
 * when it changes, so a peer can be added while the node runs.
 */
export class Trust {
  readonly file: string
  private fromFile = new Set<string>()
  private stamp = ''

  constructor (private readonly init: TrustInit) {
    this.file = path.join(init.dataDir, 'trusted-peers')
  }

  private reload (): void {
    let stamp = 'absent'
    try {
      const s = statSync(this.file)
      stamp = `${s.mtimeMs}:${s.size}`
    } catch {}
    if (stamp === this.stamp) return
    this.stamp = stamp
    let text = ''
    try {
      // a regular file of a sane size only: anything else trusts no one from the file
      text = readRegularFileSync(this.file, 4 * 1024 * 1024, 'a list of trusted peers').toString('utf8')
    } catch {}
    this.fromFile = new Set(text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l !== ''))
  }

  /** Why a peer is not trusted, or undefined when it is. */
  check (peerId: string, addr: Multiaddr | undefined): string | undefined {
    if (this.init.peers?.includes(peerId) === true) return undefined
    this.reload()
    if (this.fromFile.has(peerId)) return undefined
    if (this.init.loopback === true && addr !== undefined && isLoopback(addr)) return undefined
    const dev = this.init.loopback === true ? ' (--dev trusts loopback peers only, and this one is not on loopback)' : ''
    return `peer ${peerId} is not trusted${dev}; start the node with --trust ${peerId}, or add that id to ${this.file}`
  }
}
