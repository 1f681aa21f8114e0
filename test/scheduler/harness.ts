import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createValidator, createTemplateEngine, type Pipeline } from '../../src/index.js'
import type { RunEvent, RunOptions, RunOutcome } from '../../src/interfaces/engine.js'
import type { ContentStore } from '../../src/interfaces/content-store.js'
import type { RunStore } from '../../src/interfaces/run-store.js'
import { createProcessExecutor, createSandboxExecutor } from '../../src/executors/index.js'
import { createEngine } from '../../src/scheduler/index.js'
import { createFsStore, openRunStore } from '../../src/storage/index.js'
import { loadNodeKey } from '../../src/common/node-key.js'
import { ROOT } from '../helpers/paths.js'

/** A project folder (with the shipped jobstore and scripts) and a node's parts, all real. */
export class Harness {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'bac-engine-'))
  readonly project = path.join(this.dir, 'project')
  readonly dataDir = path.join(this.dir, 'data')
  readonly store: ContentStore = createFsStore({ dataDir: this.dataDir })
  readonly runs: RunStore
  readonly events: RunEvent[] = []
  private readonly engine

  constructor () {
    mkdirSync(path.join(this.project, 'pipelines'), { recursive: true })
    cpSync(path.join(ROOT, 'jobstore'), path.join(this.project, 'jobstore'), { recursive: true })
    cpSync(path.join(ROOT, 'scripts'), path.join(this.project, 'scripts'), { recursive: true })
    cpSync(path.join(ROOT, 'pipelines', 'data'), path.join(this.project, 'pipelines', 'data'), { recursive: true })
    mkdirSync(this.dataDir, { recursive: true })
    this.runs = openRunStore({ file: path.join(this.dataDir, 'runs.db') })
    this.engine = createEngine({
      store: this.store,
      runs: this.runs,
      executors: { process: createProcessExecutor({ killGraceMs: 500 }), sandbox: createSandboxExecutor({ killGraceMs: 500 }) },
      templates: createTemplateEngine(),
      signer: loadNodeKey(this.dataDir)
    }, { dataDir: this.dataDir, nodeId: 'node-test', version: 'test' })
  }

  async start (): Promise<this> {
    await this.store.start()
    return this
  }

  /** Writes a pipeline into the project and validates it. */
  pipeline (name: string, yaml: string): Pipeline {
    const file = path.join(this.project, 'pipelines', `${name}.yml`)
    writeFileSync(file, yaml)
    const result = createValidator().validatePipelineFile(file)
    if (result.value === undefined) throw new Error(result.problems.map((p) => `${p.line}:${p.column} ${p.message}`).join('\n'))
    return result.value
  }

  async run (pipeline: Pipeline, options: RunOptions = {}): Promise<RunOutcome> {
    return await this.engine.run(pipeline, { cwd: this.project, concurrency: 4, onEvent: (e) => this.events.push(e), ...options })
  }

  async stop (): Promise<void> {
    this.runs.close()
    await this.store.stop()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
