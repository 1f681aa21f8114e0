import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { defaultDataDir, printable, UsageError, type NodeAdvert } from '../../index.js'
import { withBacNode } from '../node-session.js'
import { EXIT } from '../exit.js'
import { displayPath } from '../format.js'
import type { Io } from '../io.js'

export interface NodeListOptions {
  node?: string
  token?: string
  json?: boolean
  dataDir?: string
}

export interface DevstackOptions {
  nodes?: string
  pipelines?: string[]
  dir?: string
  dataDir?: string
  json?: boolean
  allowPath?: string[]
  /** The root's --ipfs-api and --log-level, given on to every node. */
  ipfsApi?: string
  logLevel?: string
}

function ago (ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000))
  return s < 60 ? `${s}s ago` : `${Math.round(s / 60)}m ago`
}

/** `bac node list`: the running node and its peers, with labels, executors, load and last contact. */
export async function nodeListCommand (options: NodeListOptions, io: Io): Promise<number> {
  // the peers first: a data dir no node serves is on no network, and says so before it opens anything
  const { node, peers } = await withBacNode(options, async (bac) => ({ peers: await bac.peers(), node: await bac.info() }))
  if (options.json === true) {
    io.out(`${JSON.stringify({ node, peers })}\n`)
    return EXIT.ok
  }
  // vm with the names of the images the node holds: vm[base,python]
  const executors = (a: NodeAdvert): string => a.executors.map((e) => e === 'vm' && a.images !== undefined ? `vm[${a.images.filter((i) => !i.startsWith('sha256:')).join(',')}]` : e).join(',')
  const self = node.advert
  const rows: string[][] = [['NODE', 'PEER ID', 'STATE', 'LABELS', 'EXECUTORS', 'LOAD', 'LAST CONTACT']]
  const labels = (l: Readonly<Record<string, string>>): string => Object.entries(l).map(([k, v]) => v === '' ? k : `${k}=${v}`).join(',') || '-'
  if (self !== undefined) rows.push([self.nodeId, self.peerId, 'this node', labels(self.labels), executors(self), `${self.running}/${self.slots}`, '-'])
  for (const p of peers) {
    const state = `${p.connected ? 'connected' : 'gone'}${p.trusted ? '' : ', untrusted'}`
    rows.push([p.advert.nodeId, p.advert.peerId, state, labels(p.advert.labels), executors(p.advert), `${Math.max(p.advert.running, p.dispatched)}/${p.advert.slots}`, ago(p.lastSeen)])
  }
  const shown = rows.map((r) => r.map((c) => printable(String(c), 400)))
  const widths = shown[0]?.map((_, i) => Math.max(...shown.map((r) => (r[i] ?? '').length))) ?? []
  for (const r of shown) io.out(`${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()}\n`)
  return EXIT.ok
}

/**
 * `bac devstack --nodes N`: N `bac serve --dev` processes on loopback, each on its own data dir
 * (kept, so their peer ids stay), the others joining the first. Prints how to point the CLI at
 * them; Ctrl-C stops them all.
 */
export async function devstackCommand (options: DevstackOptions, io: Io): Promise<number> {
  const count = Number(options.nodes ?? '3')
  if (!Number.isInteger(count) || count < 1 || count > 64) throw new UsageError(`--nodes takes 1 to 64, got '${options.nodes ?? ''}'`)
  const base = path.resolve(options.dir ?? path.join(options.dataDir ?? defaultDataDir(), 'devstack'))
  const bin = process.argv[1] as string
  // one token for every node: the CLI pointed at any of them sends it ($BAC_TOKEN)
  const token = process.env.BAC_TOKEN !== undefined && process.env.BAC_TOKEN !== '' ? process.env.BAC_TOKEN : randomBytes(32).toString('base64url')
  // a development network: its nodes read the pipelines and files of the folder it was started in
  const allowed = (options.allowPath ?? []).length > 0 ? (options.allowPath ?? []).map((p) => path.resolve(p)) : [process.cwd()]
  const children: ChildProcess[] = []
  const stopAll = (): void => { for (const c of children) if (c.exitCode === null) c.kill('SIGTERM') }
  let firstAddr: string | undefined
  const ready: Array<{ id: string, url: string, peerId: string, addrs: string[] }> = []
  try {
    for (let i = 1; i <= count; i++) {
      const dataDir = path.join(base, `node-${i}`)
      mkdirSync(dataDir, { recursive: true })
      const args = [bin, 'serve', '--dev', '--json', '--port', '0', '--api', '127.0.0.1:0', '--data-dir', dataDir, '--label', `devstack=${i}`, ...allowed.flatMap((p) => ['--allow-path', p])]
      if (firstAddr !== undefined) args.push('--peer', firstAddr)
      if (options.ipfsApi !== undefined) args.splice(1, 0, '--ipfs-api', options.ipfsApi)
      if (options.logLevel !== undefined) args.splice(1, 0, '--log-level', options.logLevel)
      for (const p of i === 1 ? options.pipelines ?? [] : []) args.push('--pipelines', p)
      if (i > 1 || (options.pipelines ?? []).length === 0) args.push('--no-pipelines')
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BAC_TOKEN: token } })
      children.push(child)
      const prefix = `[node-${i}] `
      createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => { io.err(`${prefix}${line}\n`) })
      const info = await new Promise<{ id: string, url: string, peerId: string, addrs: string[] }>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
        lines.on('line', (line) => {
          try {
            const event = JSON.parse(line) as { type?: string, id: string, url: string, peerId: string, addrs: string[] }
            if (event.type === 'node:ready') resolve(event)
          } catch {}
        })
        child.once('exit', (code) => { reject(new Error(`node ${i} exited with code ${String(code)} before it was ready (its output is above)`)) })
      })
      ready.push(info)
      firstAddr ??= info.addrs[0]
      if (options.json === true) io.out(`${JSON.stringify({ ...info, type: 'devstack:node', index: i, dataDir, token })}\n`)
    }
  } catch (err) {
    stopAll()
    throw err
  }
  const first = ready[0]
  if (options.json !== true && first !== undefined) {
    io.out(`devstack: ${count} node${count === 1 ? '' : 's'} on loopback, data in ${displayPath(base)}\n`)
    for (const [i, n] of ready.entries()) io.out(`  node-${i + 1}  ${n.id}  ${n.url}  ${n.addrs[0] ?? ''}\n`)
    io.out(`point the CLI at the first node (the token is every node's; they read files under ${allowed.join(', ')}):\n` +
      `  export BAC_NODE=${first.url} BAC_TOKEN=${token}\n  bac node list\n  bac run <pipeline.yml>\nCtrl-C stops them all.\n`)
  }
  if (options.json === true) io.out(`${JSON.stringify({ type: 'devstack:ready', nodes: ready.length, url: first?.url, token })}\n`)
  await new Promise<void>((resolve) => {
    const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve() }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    for (const c of children) c.once('exit', () => { if (children.every((x) => x.exitCode !== null || x.signalCode !== null)) stop() })
  })
  stopAll()
  await Promise.all(children.map(async (c) => { if (c.exitCode === null && c.signalCode === null) await new Promise((resolve) => c.once('exit', resolve)) }))
  return EXIT.ok
}
