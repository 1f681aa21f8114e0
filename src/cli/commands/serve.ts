import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { createValidator, defaultDataDir, discoverPipelines, startServing, UsageError, type NodeEvent, type NodeNetworkOptions, type Pipeline } from '../../index.js'
import { EXIT } from '../exit.js'
import { displayPath, formatText } from '../format.js'
import type { Io } from '../io.js'
import { duration } from '../render.js'

export interface ServeOptions {
  /** false with --no-pipelines */
  pipelines?: string[] | false
  concurrency?: string
  outputs?: string
  dataDir?: string
  api?: string
  json?: boolean
  verbose?: boolean
  once?: boolean
  port?: string
  listen?: boolean
  peer?: string[]
  label?: string[]
  trust?: string[]
  dev?: boolean
  slots?: string
  token?: string
  allowPath?: string[]
  apiHost?: string[]
  /** The root's --ipfs-api. */
  ipfsApi?: string
}

/** The shortest token a node takes when one is given (`--token`, `$BAC_TOKEN`). */
const MIN_TOKEN_LENGTH = 32

/** `--label k=v` pairs (a bare `k` is the label with an empty value). */
export function parseLabels (pairs: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {}
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    const key = at < 0 ? pair : pair.slice(0, at)
    if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw new UsageError(`--label takes key=value with a key of letters, digits, _ . -, got '${pair}'`)
    labels[key] = at < 0 ? '' : pair.slice(at + 1)
  }
  return labels
}

/** The network part of `bac serve`'s options. */
function networkOptions (options: ServeOptions, io: Io): NodeNetworkOptions {
  const port = Number(options.port ?? '4001')
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port takes a TCP port (0 for any free one), got '${options.port ?? ''}'`)
  const slots = options.slots === undefined ? undefined : Number(options.slots)
  if (slots !== undefined && (!Number.isInteger(slots) || slots < 1)) throw new UsageError(`--slots must be a whole number of at least 1, got '${options.slots ?? ''}'`)
  const host = options.listen === true ? '0.0.0.0' : '127.0.0.1'
  return {
    listen: [`/ip4/${host}/tcp/${port}`],
    peers: options.peer ?? [],
    labels: parseLabels(options.label ?? []),
    trust: options.trust ?? [],
    dev: options.dev === true,
    ...(slots !== undefined ? { slots } : {}),
    log: (line) => { io.err(`${time()} ${line}\n`) }
  }
}

/** `--api host:port` (or a port alone) into its parts; `false` for none. */
export function parseListen (text: string): { host: string, port: number } {
  const at = text.lastIndexOf(':')
  const host = at < 0 ? '127.0.0.1' : text.slice(0, at).replace(/^\[(.*)\]$/, '$1')
  const port = Number(at < 0 ? text : text.slice(at + 1))
  if (!Number.isInteger(port) || port < 0 || port > 65535 || host === '') throw new UsageError(`--api takes host:port or a port (0 for any free one), got '${text}'`)
  return { host, port }
}

/** Validates pipeline files; prints every problem and fails when one has errors. */
function loadPipelines (files: readonly string[], io: Io): Pipeline[] | undefined {
  const validator = createValidator()
  const pipelines: Pipeline[] = []
  let failed = false
  for (const file of files) {
    const result = validator.validatePipelineFile(file)
    if (result.problems.length > 0) io.err(formatText(result.problems, io.colors))
    if (result.value === undefined) failed = true
    else pipelines.push(result.value)
  }
  if (failed) {
    io.err('bac: not started: fix the pipelines above (bac validate shows the same)\n')
    return undefined
  }
  return pipelines
}

function concurrencyOf (options: ServeOptions): number | undefined {
  if (options.concurrency === undefined) return undefined
  const n = Number(options.concurrency)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--concurrency must be a whole number of at least 1, got '${options.concurrency}'`)
  return n
}

const time = (): string => new Date().toISOString().slice(11, 19)

/** One line per thing that happens on a serving node; step output only with `verbose`. */
export function nodeEventRenderer (io: Io, options: { json?: boolean, verbose?: boolean }): (event: NodeEvent) => void {
  return (event) => {
    if (options.json === true) {
      if (event.type !== 'step:log' || options.verbose === true) io.out(`${JSON.stringify(event)}\n`)
      return
    }
    const line = (text: string): void => { io.err(`${time()} ${text}\n`) }
    switch (event.type) {
      case 'watch:ready': line(`watching ${displayPath(event.folder)} for ${event.pipeline}`); break
      case 'file:taken': line(`${displayPath(event.path)} taken (${event.cid}): run ${event.runId} queued`); break
      case 'file:skipped': line(`${displayPath(event.path)} skipped: ${event.reason}`); break
      case 'file:settled': if (event.action !== 'kept') line(`${displayPath(event.path)} ${event.action}${event.to !== undefined ? ` to ${displayPath(event.to)}` : ''}`); break
      case 'file:error': line(`${displayPath(event.path)}: ${event.message}`); break
      case 'schedule:next': line(`${event.pipeline}: next scheduled run at ${event.at}`); break
      case 'schedule:fired': line(`${event.pipeline}: scheduled run ${event.runId} queued (${event.at})`); break
      case 'message:accepted': line(`topic ${event.topic}: ${event.runs} run${event.runs === 1 ? '' : 's'} ${event.duplicate ? 'already queued (same idempotency key)' : 'queued'}`); break
      case 'run:start': line(`run ${event.runId} started: ${event.pipeline}`); break
      case 'run:end': line(`run ${event.runId} ${event.status} in ${duration(event.durationMs)}` +
        `${event.resultCid !== undefined ? `, result ${event.resultCid}` : ''}${event.reason !== undefined ? `: ${event.reason}` : ''}`); break
      case 'run:error': line(`run ${event.runId}: ${event.message}`); break
      case 'step:end': if (event.status === 'failed') line(`run ${event.runId} step ${event.stepId} failed${event.reason !== undefined ? `: ${event.reason}` : ''}`); break
      case 'step:log': if (options.verbose === true) io.err(`${event.runId} ${event.stepId} ${event.stream === 'stderr' ? '!' : '|'} ${event.text}${event.text.endsWith('\n') ? '' : '\n'}`); break
      default: break
    }
  }
}

/** Runs a serving node until SIGINT or SIGTERM, then stops it (running runs are interrupted and resumed at the next start). */
/** What `bac serve` adds to what `bac watch` runs: which triggers, the API, the network. */
interface Serving {
  readonly triggers?: { watch?: boolean, schedule?: boolean, message?: boolean }
  readonly api?: { host: string, port: number, token?: string, hosts?: string[] }
  readonly network?: NodeNetworkOptions
  readonly pipelineFolders: string[]
}

async function serveUntilStopped (io: Io, pipelines: Pipeline[], options: ServeOptions, extra: Serving): Promise<number> {
  const concurrency = concurrencyOf(options)
  const dataDir = options.dataDir ?? defaultDataDir()
  const render = nodeEventRenderer(io, options)
  let failed = 0
  const node = await startServing({
    dataDir,
    pipelines,
    cwd: process.cwd(),
    ...(options.ipfsApi !== undefined ? { ipfsApi: options.ipfsApi } : {}),
    ...(options.outputs !== undefined ? { outputsDir: path.resolve(options.outputs) } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(extra.triggers !== undefined ? { triggers: extra.triggers } : {}),
    ...(extra.api !== undefined ? { api: extra.api } : {}),
    ...(extra.network !== undefined ? { network: extra.network } : {}),
    pipelineFolders: extra.pipelineFolders,
    ...((options.allowPath ?? []).length > 0 ? { allowPaths: (options.allowPath ?? []).map((p) => path.resolve(p)) } : {}),
    onEvent: (event) => {
      if (event.type === 'run:end' && event.status !== 'succeeded' && event.status !== 'interrupted') failed++
      render(event)
    }
  })
  io.err(`${time()} node ${node.id} on ${displayPath(node.dataDir)}${node.url !== undefined ? `, API ${node.url}` : ''}; ${options.once === true ? 'until every file is done' : 'Ctrl-C to stop'}\n`)
  // a login code (good once, for 10 minutes; not the token): bac dashboard makes a new one at any time
  const login = options.json === true ? undefined : node.dashboardLogin()
  if (login !== undefined) io.err(`${time()} dashboard: ${login} (good once, for 10 minutes; bac dashboard opens it logged in later)\n`)
  // the data dir holds the node's token, key, content and runs: for its user alone
  const mode = statSync(node.dataDir).mode & 0o777
  if ((mode & 0o077) !== 0) io.err(`${time()} warning: ${displayPath(node.dataDir)} may be read by other users (mode ${mode.toString(8)}); chmod 700 ${displayPath(node.dataDir)}\n`)
  const network = node.node.network
  if (network !== undefined) {
    const addr = network.addrs()[0] ?? ''
    io.err(`${time()} peer id ${network.peerId}, listening on ${network.addrs().join(', ')}\n`)
    io.err(`${time()} to add a node: bac serve --data-dir <another dir> --port 0 --api 127.0.0.1:0 --peer ${addr}${options.dev === true ? ' --dev' : ` --trust ${network.peerId}`}\n`)
    if (options.dev !== true) io.err(`${time()} this node runs work only for peers it trusts: add the new node's peer id to ${path.join(node.dataDir, 'trusted-peers')}, or use --dev on loopback\n`)
  }
  if (node.url !== undefined && options.json === true) {
    io.out(`${JSON.stringify({ type: 'node:ready', id: node.id, url: node.url, pid: process.pid, ...(network !== undefined ? { peerId: network.peerId, addrs: network.addrs() } : {}) })}\n`)
  }
  let signalled = false
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      signalled = true
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    // --once: done when no file is being taken and no run is running or waiting
    if (options.once === true) void node.idle().then(() => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve() })
  })
  if (signalled) io.err(`${time()} stopping: running runs are interrupted and taken up again at the next start\n`)
  await node.stop()
  if (options.once === true) {
    if (signalled) return EXIT.cancelled
    io.err(`${time()} done${failed > 0 ? `: ${failed} run${failed === 1 ? '' : 's'} did not succeed` : ''}\n`)
    return failed > 0 ? EXIT.failed : EXIT.ok
  }
  return EXIT.ok
}

/** `bac watch <pipeline.yml...>`: each pipeline's drop folder starts runs, exactly once per file. */
export async function watchCommand (files: string[], options: ServeOptions, io: Io): Promise<number> {
  const pipelines = loadPipelines(files, io)
  if (pipelines === undefined) return EXIT.usage
  const without = pipelines.filter((p) => p.on.watch === undefined)
  if (without.length > 0) {
    throw new UsageError(`${without.map((p) => displayPath(p.file)).join(', ')} ha${without.length === 1 ? 's' : 've'} no on.watch; add one (see docs/pipeline-language.md#triggers-on)`)
  }
  return await serveUntilStopped(io, pipelines, options, { triggers: { watch: true, schedule: false, message: false }, pipelineFolders: folders(files) })
}

/** The folders pipelines come from: each folder given, and each file's own folder. */
function folders (paths: readonly string[]): string[] {
  return [...new Set(paths.map((p) => path.resolve(statSync(p).isDirectory() ? p : path.dirname(p))))]
}

/** The API's token: `--token`, else $BAC_TOKEN, else none (the node makes one); a given one must be long enough to guess at no better than random. */
function apiToken (options: ServeOptions): string | undefined {
  const token = options.token ?? (process.env.BAC_TOKEN !== '' ? process.env.BAC_TOKEN : undefined)
  if (token === undefined) return undefined
  if (token.length < MIN_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
    throw new UsageError(`the API token (--token or $BAC_TOKEN) must be at least ${MIN_TOKEN_LENGTH} printable characters without spaces, e.g. from: openssl rand -hex 32`)
  }
  return token
}

/** `bac serve`: a node whose pipelines' triggers (watch, schedule, message) start runs, with the local HTTP API. */
export async function serveCommand (options: ServeOptions, io: Io): Promise<number> {
  const given = options.pipelines === false ? [] : options.pipelines ?? []
  const paths = given.length > 0 || options.pipelines === false ? given : (existsSync('pipelines') ? ['pipelines'] : [])
  const files = paths.length === 0 ? [] : discoverPipelines(paths)
  const pipelines = loadPipelines(files, io)
  if (pipelines === undefined) return EXIT.usage
  const listen = parseListen(options.api ?? '127.0.0.1:1234')
  const token = apiToken(options)
  if (!/^(127\.|::1$|localhost$)/.test(listen.host)) {
    // beyond this machine, the clients need a token they were given: a random one is only in api.json here
    if (token === undefined) {
      throw new UsageError(`--api ${listen.host}:${listen.port} listens beyond this machine: give the API a token its clients will send, with --token or $BAC_TOKEN ` +
        `(at least ${MIN_TOKEN_LENGTH} characters, e.g. openssl rand -hex 32); the API speaks plain HTTP, so put TLS in front of it on an untrusted network`)
    }
    io.err(`bac: warning: the API listens on ${listen.host}, beyond this machine, over plain HTTP: the token travels in clear; keep it on a trusted network or behind a TLS proxy\n`)
  }
  const api = { ...listen, ...(token !== undefined ? { token } : {}), ...((options.apiHost ?? []).length > 0 ? { hosts: options.apiHost ?? [] } : {}) }
  return await serveUntilStopped(io, pipelines, options, { api, network: networkOptions(options, io), pipelineFolders: paths.length === 0 ? [] : folders(paths) })
}
