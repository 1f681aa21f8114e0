/** What the node's API answers (the same shapes as its OpenAPI document at /api/v1/openapi.json). */
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted'

export interface GraphStep { id: string, needs: string[], executor: string, nodes: number, foreach: boolean, uses?: string, conditional: boolean }

export interface Run {
  id: string
  pipeline: string
  pipelineFile: string
  status: RunStatus
  summary: string
  trigger: Record<string, unknown>
  inputs: Record<string, unknown>
  createdAt: number
  startedAt?: number
  endedAt?: number
  resultCid?: string
  provenanceCid?: string
  reason?: string
  graph?: { steps: GraphStep[] }
}

export interface CacheSource { runId: string, node: string, outputsCid: string }

export interface Step {
  stepId: string
  status: string
  outputsCid?: string
  startedAt?: number
  endedAt?: number
  reason?: string
  cachedFrom?: Record<string, CacheSource>
}

export interface Execution {
  id: number
  stepId: string
  attempt: number
  item?: number
  node: string
  peer?: string
  executor: string
  startedAt: number
  endedAt?: number
  exitCode?: number
  error?: string
  outputsCid?: string
}

export type RunWithSteps = Run & { steps: Step[], executions: Execution[] }

export type RunEvent =
  | { type: 'run:start', runId: string, pipeline: string, steps: string[] }
  | { type: 'step:start', runId: string, stepId: string, item?: number, attempt: number, executor: string, node?: string }
  | { type: 'step:log', runId: string, stepId: string, item?: number, stream: 'stdout' | 'stderr', text: string }
  | { type: 'step:end', runId: string, stepId: string, status: string, durationMs: number, reason?: string }
  | { type: 'run:end', runId: string, status: RunStatus, durationMs: number, resultCid?: string, reason?: string }

export interface LogChunk { stepId: string, item?: number, attempt: number, node: string, stream: 'stdout' | 'stderr', text: string }

export interface Entry { name: string, cid: string, type: 'file' | 'directory', size: number }

export interface Advert { nodeId: string, peerId: string, version: string, labels: Record<string, string>, executors: string[], images?: string[], slots: number, running: number, addrs: string[] }
export interface Peer { advert: Advert, trusted: boolean, connected: boolean, lastSeen: number, dispatched: number }
export interface NodeInfo { id: string, pipelines: string[], topics: string[], peerId?: string, addrs?: string[], advert?: Advert }

export interface Triggers {
  pipeline: string
  file: string
  watch?: { folder: string, taken: number, waiting: number, failed: number }
  message?: { topic: string, runs: number, lastAt?: number }
  schedule?: { next?: number, runs: number, lastAt?: number }
}
