import { existsSync, statSync } from 'node:fs'
import { createValidator, graphOf, UsageError } from '../../index.js'
import { EXIT } from '../exit.js'
import { formatText } from '../format.js'
import { renderGraph, stepStates, type GraphFormat } from '../graph.js'
import type { Io } from '../io.js'
import { withBacNode, type NodeOptions } from '../node-session.js'

export interface GraphOptions extends NodeOptions { format?: GraphFormat }

/**
 * `bac graph <pipeline.yml | run-id>`: a pipeline's DAG, or a run's with each step's status (and
 * n/N of a step's instances), as Mermaid or Graphviz DOT on stdout. A run is asked of the node
 * the command acts on, as job commands are.
 */
export async function graphCommand (ref: string, options: GraphOptions, io: Io): Promise<number> {
  const format = options.format ?? 'mermaid'
  const isFile = existsSync(ref) && statSync(ref).isFile()
  if (isFile || /\.ya?ml$/i.test(ref)) {
    if (!isFile) throw new UsageError(existsSync(ref) ? `${ref}: not a regular file; bac reads only regular files as pipelines` : `${ref}: no such pipeline file`)
    const validation = createValidator().validatePipelineFile(ref)
    if (validation.value === undefined) {
      io.err(formatText(validation.problems, io.colors))
      io.err(`${ref}: the pipeline has ${validation.errors.length} error${validation.errors.length === 1 ? '' : 's'}; no graph\n`)
      return EXIT.usage
    }
    io.out(renderGraph(validation.value.name, graphOf(validation.value), format))
    return EXIT.ok
  }
  return await withBacNode(options, async (node) => {
    const { run, steps, executions } = await node.describeRun(ref)
    if (run.graph === undefined) throw new UsageError(`run ${run.id} was made by a bac that did not keep its DAG; give its pipeline file: bac graph ${run.pipelineFile}`)
    io.out(renderGraph(run.pipeline, run.graph, format, stepStates(steps, executions)))
    return EXIT.ok
  })
}
