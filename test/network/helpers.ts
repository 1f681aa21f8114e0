import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { api } from '../helpers/api.js'
import { BAC_BIN, IMAGES } from '../helpers/paths.js'

export { until } from '../helpers/until.js'

/** The API token the test nodes share (bac serve takes it from $BAC_TOKEN); the CLI sends it the same way. */
export const TOKEN = 'test-token-0123456789abcdef0123456789abcdef'

/** A `bac serve` (or devstack) process and what it printed. */
export interface NodeProcess {
  readonly child: ChildProcess
  readonly id: string
  readonly url: string
  readonly peerId: string
  readonly addrs: readonly string[]
  readonly pid: number
  readonly dataDir: string
  /** The token its API takes. */
  readonly token: string
  stderr: () => string
  stop: () => Promise<void>
}

/** A folder for a test's nodes, removed by `cleanup`. */
export function scratch (name: string): { dir: string, cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `bac-${name}-`))
  return { dir, cleanup: () => { rmSync(dir, { recursive: true, force: true }) } }
}

async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/** Starts `bac serve --json` (no pipelines, API on a free port) and resolves once it is ready. */
export async function startNode (dataDir: string, args: readonly string[], options: { prefix?: readonly string[], cwd?: string, token?: string } = {}): Promise<NodeProcess> {
  mkdirSync(dataDir, { recursive: true })
  const token = options.token ?? TOKEN
  const argv = [...(options.prefix ?? []), process.execPath, BAC_BIN, 'serve', '--json', '--no-pipelines', '--port', '0', '--api', '127.0.0.1:0', '--data-dir', dataDir, ...args]
  const child = spawn(argv[0] as string, argv.slice(1), { cwd: options.cwd ?? dataDir, env: { ...process.env, NO_COLOR: '1', BAC_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const ready = await new Promise<{ id: string, url: string, peerId: string, addrs: string[], pid: number }>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        const event = JSON.parse(line) as { type?: string, id: string, url: string, peerId: string, addrs: string[], pid: number }
        if (event.type === 'node:ready') resolve(event)
      } catch {}
    })
    child.once('error', reject)
    child.once('exit', (code) => { reject(new Error(`bac serve exited (${String(code)}) before it was ready:\n${stderr}`)) })
  })
  return { child, ...ready, dataDir, token, stderr: () => stderr, stop: async () => { await stopChild(child) } }
}

/** `bac devstack --nodes n --json`: resolves with its nodes once all are ready. */
export async function startDevstack (dir: string, nodes: number, env: Record<string, string> = {}, args: readonly string[] = []): Promise<{ nodes: NodeProcess[], stop: () => Promise<void> }> {
  // the nodes share the VM images test setup built
  const child = spawn(process.execPath, [BAC_BIN, 'devstack', '--nodes', String(nodes), '--dir', dir, '--json', ...args], {
    env: { ...process.env, NO_COLOR: '1', BAC_IMAGES: IMAGES, BAC_TOKEN: TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const found: NodeProcess[] = []
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const event = JSON.parse(line) as { type: string, id: string, url: string, peerId: string, addrs: string[], pid: number, dataDir: string, token: string }
      if (event.type === 'devstack:node') found.push({ child, ...event, stderr: () => stderr, stop: async () => { await stopChild(child) } })
      if (event.type === 'devstack:ready') resolve()
    })
    child.once('exit', (code) => { reject(new Error(`bac devstack exited (${String(code)}):\n${stderr}`)) })
  })
  return { nodes: found, stop: async () => { await stopChild(child) } }
}

/** The peers a node's API lists as connected and trusted. */
export async function connectedPeers (node: Pick<NodeProcess, 'url' | 'token'>): Promise<string[]> {
  const res = await api(node, '/api/v1/peers')
  const peers = await res.json() as Array<{ advert: { peerId: string }, connected: boolean, trusted: boolean }>
  return peers.filter((p) => p.connected && p.trusted).map((p) => p.advert.peerId)
}
