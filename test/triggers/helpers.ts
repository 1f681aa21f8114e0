import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createValidator, startServing, type NodeEvent, type Pipeline, type ServeInit, type ServingNode } from '../../src/index.js'
import type { RunRecord } from '../../src/interfaces/run-store.js'

export { until } from '../helpers/until.js'

/** A project folder with pipelines, and a serving node on its own data dir (all real). */
export class Project {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'bac-triggers-'))
  readonly dataDir = path.join(this.dir, 'data')
  readonly events: NodeEvent[] = []
  node: ServingNode | undefined

  constructor () {
    mkdirSync(path.join(this.dir, 'pipelines'), { recursive: true })
  }

  pipeline (name: string, yaml: string): Pipeline {
    const file = path.join(this.dir, 'pipelines', `${name}.yml`)
    writeFileSync(file, yaml)
    const result = createValidator().validatePipelineFile(file)
    if (result.value === undefined) throw new Error(result.problems.map((p) => `${p.line}:${p.column} ${p.message}`).join('\n'))
    return result.value
  }

  async start (pipelines: Pipeline[], init: Partial<ServeInit> = {}): Promise<ServingNode> {
    this.node = await startServing({
      dataDir: this.dataDir, pipelines, cwd: this.dir, outputsDir: path.join(this.dir, 'outputs'), concurrency: 4,
      // the project's folder, as bac serve's defaults would allow it
      pipelineFolders: [path.join(this.dir, 'pipelines')], allowPaths: [this.dir],
      onEvent: (e) => this.events.push(e), ...init
    })
    return this.node
  }

  async stop (): Promise<void> {
    await this.node?.stop()
    this.node = undefined
  }

  /** Every run on record, oldest first. */
  runs (): RunRecord[] {
    if (this.node === undefined) throw new Error('no node')
    return this.node.node.runs.listRuns({ limit: 100_000 }).reverse()
  }

  async close (): Promise<void> {
    await this.stop()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
