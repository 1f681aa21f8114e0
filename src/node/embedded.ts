import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { ContentStore } from '../interfaces/content-store.js'
import type { Engine, RunOptions, RunOutcome } from '../interfaces/engine.js'
import type { Pipeline } from '../interfaces/pipeline.js'
import type { RunStore } from '../interfaces/run-store.js'
import { createProcessExecutor, createSandboxExecutor } from '../executors/index.js'
import { createEngine } from '../scheduler/index.js'
import { createFsStore, openRunStore } from '../storage/index.js'
import { createTemplateEngine } from '../template/index.js'

export interface EmbeddedNodeInit {
  /** The node's data dir (created on first use). */
  dataDir: string
}

/** A node that lives as long as one command: the content store, run store, executors, engine. */
export interface EmbeddedNode {
  readonly id: string
  readonly dataDir: string
  readonly store: ContentStore
  readonly runs: RunStore
  /** Runs of a process that died, marked interrupted when the node opened. */
  readonly recovered: readonly string[]
  readonly engine: Engine
  run: (pipeline: Pipeline, options?: RunOptions) => Promise<RunOutcome>
  close: () => Promise<void>
}

/** This node's id, made once and kept in the data dir. */
function nodeId (dataDir: string): string {
  const file = path.join(dataDir, 'node-id')
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    const id = `node-${randomBytes(6).toString('hex')}`
    writeFileSync(`${file}.tmp`, `${id}\n`)
    renameSync(`${file}.tmp`, file)
    return id
  }
}

/** Opens an embedded node on a data dir. */
export async function openEmbeddedNode (init: EmbeddedNodeInit): Promise<EmbeddedNode> {
  const dataDir = path.resolve(init.dataDir)
  mkdirSync(dataDir, { recursive: true })
  const id = nodeId(dataDir)
  const store = createFsStore({ dataDir })
  await store.start()
  const runs = openRunStore({ file: path.join(dataDir, 'runs.db') })
  const recovered = runs.recoverInterrupted()
  const engine = createEngine({
    store,
    runs,
    executors: { process: createProcessExecutor(), sandbox: createSandboxExecutor() },
    templates: createTemplateEngine()
  }, { dataDir, nodeId: id })
  return {
    id,
    dataDir,
    store,
    runs,
    recovered,
    engine,
    run: async (pipeline, options) => await engine.run(pipeline, options),
    close: async () => {
      runs.close()
      await store.stop()
    }
  }
}
