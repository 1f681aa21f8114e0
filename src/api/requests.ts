import { cidAlone } from '../common/cid.js'
import { printable } from '../common/text.js'
import type { RunRequest } from '../interfaces/node.js'
import { Refusal } from './access.js'

/** The most runs one listing returns. */
export const MAX_LIST_LIMIT = 1000
/** The most steps a run started through the API may run at once. */
export const MAX_CONCURRENCY = 1024

export type { RunRequest }

const FIELDS = new Set(['pipeline', 'text', 'job', 'file', 'inputs', 'cwd', 'outputsDir', 'noCache', 'concurrency', 'executor', 'image'])

function text (body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name]
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '' || value.includes('\0')) throw new Refusal(400, `${name} must be a non-empty string`)
  return value
}

/** The `job` field: CIDs alone (at most 64) and a command of at most 64 KiB. */
function jobField (value: unknown): RunRequest['job'] {
  if (value === undefined) return undefined
  const job = value as { cids?: unknown, command?: unknown } | null
  if (typeof job !== 'object' || job === null || Array.isArray(job) || Object.keys(job).some((k) => k !== 'cids' && k !== 'command')) throw new Refusal(400, 'job must be { cids, command }')
  if (typeof job.command !== 'string' || job.command.trim() === '' || job.command.length > 64 * 1024 || job.command.includes('\0')) {
    throw new Refusal(400, 'job.command must be a shell command of at most 64 KiB')
  }
  const cids = job.cids ?? []
  if (!Array.isArray(cids) || cids.length > 64 || !cids.every((c) => typeof c === 'string' && cidAlone(c) === c)) throw new Refusal(400, 'job.cids must be a list of at most 64 CIDs')
  return { cids: cids as string[], command: job.command }
}

/** Checks a run request's shape; a field of the wrong type or an unknown one is a 400 naming it. */
export function parseRunRequest (body: unknown): RunRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Refusal(400, 'the body must be a JSON object { pipeline | text, inputs, cwd, outputsDir }')
  const fields = body as Record<string, unknown>
  const unknown = Object.keys(fields).find((k) => !FIELDS.has(k))
  if (unknown !== undefined) throw new Refusal(400, `unknown field '${unknown}'; a run request takes ${[...FIELDS].join(', ')}`)
  const pipeline = text(fields, 'pipeline')
  const source = text(fields, 'text')
  const job = jobField(fields.job)
  if ([pipeline, source, job].filter((v) => v !== undefined).length !== 1) {
    throw new Refusal(400, 'give one of pipeline (a pipeline this node serves, by name or path), text (the pipeline\'s YAML) or job ({ cids, command })')
  }
  const inputs = fields.inputs
  if (inputs !== undefined && (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs) || Object.values(inputs).some((v) => typeof v !== 'string'))) {
    throw new Refusal(400, 'inputs must be an object of strings { "name": "value" }')
  }
  const concurrency = fields.concurrency
  if (concurrency !== undefined && (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY)) {
    throw new Refusal(400, `concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}`)
  }
  if (fields.noCache !== undefined && typeof fields.noCache !== 'boolean') throw new Refusal(400, 'noCache must be true or false')
  const executor = text(fields, 'executor')
  if (executor !== undefined && !['process', 'sandbox', 'vm'].includes(executor)) throw new Refusal(400, `executor must be process, sandbox or vm, got '${executor}'`)
  const file = text(fields, 'file')
  if (file !== undefined && source === undefined) throw new Refusal(400, 'file goes with text: it says where the text stands')
  const request: RunRequest = {
    ...(pipeline !== undefined ? { pipeline } : {}),
    ...(source !== undefined ? { text: source } : {}),
    ...(job !== undefined ? { job } : {}),
    ...(file !== undefined ? { file } : {}),
    ...(inputs !== undefined ? { inputs: inputs as Record<string, string> } : {}),
    ...(text(fields, 'cwd') !== undefined ? { cwd: text(fields, 'cwd') as string } : {}),
    ...(fields.outputsDir === null ? { outputsDir: null } : (text(fields, 'outputsDir') !== undefined ? { outputsDir: text(fields, 'outputsDir') as string } : {})),
    ...(fields.noCache === true ? { noCache: true } : {}),
    ...(concurrency !== undefined ? { concurrency: concurrency as number } : {}),
    ...(executor !== undefined ? { executor } : {}),
    ...(text(fields, 'image') !== undefined ? { image: text(fields, 'image') as string } : {})
  }
  return request
}

/** A run id (or a unique prefix of one) from a URL: letters, digits, `-` and `_`, at most 64. */
export function runIdParam (value: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) throw new Refusal(400, `'${value.slice(0, 80)}' is not a run id`)
  return value
}

/** A CID from a query parameter (a CID alone, no path), as the store writes it; else a 400. */
export function cidParam (value: string): string {
  const cid = value.length <= 256 ? cidAlone(value) : undefined
  if (cid === undefined) throw new Refusal(400, `'${printable(value, 80)}' is not a CID`)
  return cid
}

/** A whole number from a query parameter, within bounds; undefined when absent. */
export function wholeNumber (url: URL, name: string, max: number): number | undefined {
  const value = url.searchParams.get(name)
  if (value === null) return undefined
  const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Refusal(400, `${name} must be a whole number from 1 to ${max}, got '${value.slice(0, 40)}'`)
  return n
}
