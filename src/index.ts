/**
 * bac's library API. The CLI is a thin shell over these functions; programs can call them too.
 * Heavy parts (libp2p, Helia, SQLite) must be imported lazily from here so that light commands
 * such as `bac validate` start fast.
 */
import './polyfills.js'
import type { GetOptions } from './interfaces/content-store.js'

export * from './interfaces/errors.js'
export type * from './interfaces/pipeline.js'
export type * from './interfaces/problem.js'
export type * from './interfaces/template.js'
export { createTemplateEngine, shellQuote, type TemplateEngineInit } from './template/index.js'
export { onExecutor, parseDuration, parseSize, submittedJob, type SubmittedJob, type ValidationResult, type PipelineValidator } from './pipeline/index.js'
export { MAX_VALIDATED_FILE_BYTES, regularFiles, type ValidatorFiles, type ValidatedFileKind, type PathKind } from './pipeline/index.js'
export {
  createValidator, validatePipeline, validateJobTemplate, validatePaths, getSchema, discoverPipelines,
  DEFAULT_VALIDATE_PATHS, type PathsValidation
} from './node/validation.js'

/** bac's version, from package.json. */
export { VERSION } from './version.js'

export type * from './interfaces/engine.js'
export type * from './interfaces/run-store.js'
export type * from './interfaces/content-store.js'
export type { EmbeddedNode, EmbeddedNodeInit, NodeNetworkOptions } from './node/embedded.js'
export type * from './interfaces/network.js'
export type * from './interfaces/provenance.js'
export {
  findRecord, verifyResult, recordFrom, rerunRecord, trustedKeys, statementOf,
  type FoundRecord, type Verification, type VerifyOptions, type Rerun, type RecordSource
} from './node/provenance.js'
export { envelopeBody } from './common/dsse.js'

/**
 * Opens a node for the duration of a command: content store, run store, executors and engine on
 * a data dir. Loaded on first use, so commands that need no node (validate) stay light.
 *
 * @example
 * const node = await openNode({ dataDir: defaultDataDir() })
 * const outcome = await node.run(validatePipeline('pipelines/hello.yml').value!)
 * await node.close()
 */
export async function openNode (init: import('./node/embedded.js').EmbeddedNodeInit): Promise<import('./node/embedded.js').EmbeddedNode> {
  const { openEmbeddedNode } = await import('./node/embedded.js')
  return await openEmbeddedNode(init)
}

/**
 * The node a command acts on: the one whose API `target` names (through its HTTP API), else the
 * data dir itself (its history read directly, its store and engine opened on use). Close it after.
 */
export async function connectNode (
  target: import('./api/client.js').NodeTarget | undefined,
  dataDir: string,
  options: import('./node/local-node.js').LocalNodeOptions = {}
): Promise<import('./interfaces/node.js').BacNode> {
  if (target !== undefined) {
    const { httpNode } = await import('./node/http-node.js')
    return httpNode(target)
  }
  const { localNode } = await import('./node/local-node.js')
  return localNode(dataDir, options)
}

/** The data dir: `$BAC_HOME`, else `~/.bac`. */
export function defaultDataDir (): string {
  return process.env.BAC_HOME ?? `${process.env.HOME ?? '.'}/.bac`
}

/**
 * Opens only the run history (the run store in the data dir), for commands that list or describe
 * runs; marks runs of processes that died as interrupted first.
 */
export async function openHistory (init: { dataDir: string }): Promise<import('./interfaces/run-store.js').RunStore> {
  const { openRunStore } = await import('./storage/sqlite-run-store.js')
  const { join } = await import('node:path')
  const store = openRunStore({ file: join(init.dataDir, 'runs.db') })
  store.recoverInterrupted()
  return store
}

export type { NodeEvent, ServeInit, ServingNode } from './node/serving.js'
export { readRunLogs, type RunLogsOptions } from './node/run-logs.js'
export type * from './interfaces/node.js'
export type { WatchEvent, ScheduleEvent } from './triggers/index.js'
export { encodeMessages, requestLoginCode, type MessageFormat, type NodeTarget } from './api/client.js'
export type { NodeAdvert, PeerInfo } from './interfaces/network.js'
export { readRegularFile } from './common/files.js'
export { configureLog } from './common/log.js'
export { endOfEvent } from './common/run-end.js'
export { graphOf } from './scheduler/graph.js'
export { printable } from './common/text.js'
export { cidAlone, isContentPath, parseContentPath } from './common/cid.js'

/** Run ids as nodes make them (and as a client accepts them from a server): letters, digits, `_` and `-`, never a path. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/

/**
 * Starts a node that keeps running: its pipelines' triggers (drop folders, schedules, message
 * topics) start runs, and the local HTTP API takes messages, until `stop()`.
 */
export async function startServing (init: import('./node/serving.js').ServeInit): Promise<import('./node/serving.js').ServingNode> {
  const { startServing: start } = await import('./node/serving.js')
  return await start(init)
}

/** The API address (and token) of the node serving on a data dir, when one is running. */
export async function runningApi (dataDir: string): Promise<{ url: string, pid: number, node: string, token?: string } | undefined> {
  const { runningApi: find } = await import('./node/serving.js')
  return find(dataDir)
}

/**
 * Writes the file or folder `cid` (or `cid/path`) out of a CAR stream (such as `fetchContent`
 * gives) to `target`, which must not exist; every block is checked against its CID, the CAR must
 * be rooted at `cid`, what is written is checked as `ContentStore.get` checks it, and no block is kept.
 */
export async function writeCarOut (car: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, cid: string, target: string, options: GetOptions = {}): Promise<void> {
  const { writeCarOut: write } = await import('./storage/car-out.js')
  await write(car, cid, target, options)
}

export type { ImageInfo, ImageKind } from './executors/vm/images.js'
export type { AccelChoice } from './executors/vm/accel.js'

/**
 * How this host's VMs are accelerated, as the first VM step since the host booted chose it (KVM
 * or QEMU's emulation, and why); undefined until one has, or without QEMU. Probes nothing.
 */
export async function vmAccelerator (init: { dataDir: string, imagesDir?: string }): Promise<import('./executors/vm/accel.js').AccelChoice | undefined> {
  const images = await openImages(init)
  const { QemuBackend } = await import('./executors/vm/qemu.js')
  return await new QemuBackend(images.snapshotsDir()).keptAccelerator()
}
/**
 * The VM images of a node (`bac image`): in `imagesDir`, else $BAC_IMAGES, else `<dataDir>/images`.
 *
 * @example
 * const images = await openImages({ dataDir: defaultDataDir() })
 * await images.build('images/kernel')
 */
export async function openImages (init: { dataDir: string, imagesDir?: string }): Promise<import('./executors/vm/images.js').ImageStore> {
  const [{ ImageStore }, { imagesDirOf }] = await Promise.all([import('./executors/vm/images.js'), import('./node/embedded.js')])
  return new ImageStore(imagesDirOf(init.dataDir, init.imagesDir))
}
