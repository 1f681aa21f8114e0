import type { AcceptedBatch } from '../interfaces/node.js'
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import type { Engine } from '../interfaces/engine.js'
import { parseUntrustedJson } from '../common/json.js'
import { MessageError, UserError } from '../interfaces/errors.js'
import type { Pipeline } from '../interfaces/pipeline.js'
import type { RunStore } from '../interfaces/run-store.js'
import { prepareRun } from './take.js'

/** One message row: the fields a run reads as `trigger.message.<field>`. */
export type MessageRow = Readonly<Record<string, unknown>>

/** The content types a batch of messages may come in. */
export const MESSAGE_TYPES = {
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  arrowStream: 'application/vnd.apache.arrow.stream',
  arrowFile: 'application/vnd.apache.arrow.file'
} as const

/** Rows one batch may hold: each becomes a run, recorded in one transaction. */
export const MAX_BATCH_ROWS = 100_000

/** A batch with more rows than a node takes at once: refused before any is read. */
function tooMany (rows?: number): MessageError {
  return new MessageError(413, `the batch has ${rows === undefined ? `more than ${MAX_BATCH_ROWS}` : rows} rows; at most ${MAX_BATCH_ROWS} are taken at once (split it)`)
}

/** Arrow values as JSON sees them: 64-bit integers as numbers (as text beyond 2^53), bytes as base64. */
function plain (value: unknown): unknown {
  if (value === null || value === undefined) return null
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  if (value instanceof Date) return value.toISOString()
  if (typeof value !== 'object') return value
  const withArray = value as { toArray?: () => unknown[], toJSON?: () => unknown }
  if (Array.isArray(value)) return value.map(plain)
  if (typeof withArray.toJSON === 'function' && !(Symbol.iterator in value && typeof withArray.toArray === 'function')) {
    const json = withArray.toJSON()
    if (json !== value) return plain(json)
  }
  if (typeof withArray.toArray === 'function') return [...withArray.toArray()].map(plain)
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
}

async function arrowRows (body: Uint8Array, kind: string): Promise<MessageRow[]> {
  const { tableFromIPC } = await import('apache-arrow')
  try {
    const table = tableFromIPC(body)
    // a few bytes may declare billions of rows (of nulls): counted before any is made
    if (table.numRows > MAX_BATCH_ROWS) throw tooMany(table.numRows)
    const names = table.schema.fields.map((f) => f.name)
    const columns = names.map((name) => table.getChild(name))
    const rows: MessageRow[] = []
    for (let i = 0; i < table.numRows; i++) {
      const row: Record<string, unknown> = {}
      names.forEach((name, c) => { row[name] = plain(columns[c]?.get(i)) })
      rows.push(row)
    }
    return rows
  } catch (err) {
    if (err instanceof MessageError) throw err
    // a broken stream, or types nested past what a walk of them can take
    throw new MessageError(400, `the body is not Arrow IPC (${kind}) bac can read: ` +
      `${err instanceof RangeError ? 'its types nest too deeply' : (err instanceof Error ? err.message : String(err)).slice(0, 300)}`)
  }
}

/** The body as text; bytes that are not UTF-8 are the sender's mistake (400), not replaced silently. */
function utf8 (body: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body)
  } catch {
    throw new MessageError(400, 'the body is not UTF-8 text')
  }
}

/** A JSON value from the body, depth-checked; what is wrong is a 400 naming `where`. */
function json (text: string, where: string): unknown {
  try {
    return parseUntrustedJson(text, where)
  } catch (err) {
    throw new MessageError(400, err instanceof Error ? err.message : String(err))
  }
}

function jsonRow (value: unknown, where: string): MessageRow {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MessageError(400, `${where} is not a JSON object`)
  return value as MessageRow
}

/**
 * Reads a batch of messages: JSON (an object, or an array of objects), NDJSON (one object per
 * line), or Apache Arrow IPC (stream or file format; one message per row).
 */
export async function decodeMessages (body: Uint8Array, contentType: string | undefined): Promise<MessageRow[]> {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  switch (type) {
    case MESSAGE_TYPES.json: {
      // an array of rows nests one level more than each row
      const value = json(utf8(body), 'the body')
      if (Array.isArray(value) && value.length > MAX_BATCH_ROWS) throw tooMany(value.length)
      return Array.isArray(value) ? value.map((v, i) => jsonRow(v, `row ${i}`)) : [jsonRow(value, 'the message')]
    }
    case MESSAGE_TYPES.ndjson:
    case 'application/jsonl':
    case 'application/jsonlines': {
      const rows: MessageRow[] = []
      utf8(body).split('\n').forEach((line, i) => {
        if (line.trim() === '') return
        if (rows.length >= MAX_BATCH_ROWS) throw tooMany()
        rows.push(jsonRow(json(line, `line ${i + 1}`), `line ${i + 1}`))
      })
      return rows
    }
    case MESSAGE_TYPES.arrowStream:
    case MESSAGE_TYPES.arrowFile:
      return await arrowRows(body, type)
    default:
      throw new MessageError(415, `content type '${type || '(none)'}' is not one bac reads; send ${Object.values(MESSAGE_TYPES).join(', ')}`)
  }
}

/** ajv's error, said of a row's field. */
function describeError (err: ErrorObject): string {
  const field = err.instancePath.replace(/^\//, '').replaceAll('/', '.')
  if (err.keyword === 'required') return `field '${String((err.params as { missingProperty?: string }).missingProperty)}' is required`
  if (err.keyword === 'additionalProperties') return `field '${String((err.params as { additionalProperty?: string }).additionalProperty)}' is not allowed`
  return `${field === '' ? 'the row' : `field '${field}'`} ${err.message ?? 'is invalid'}`
}

export type { AcceptedBatch }

export interface MessageRouterInit {
  readonly pipelines: readonly Pipeline[]
  readonly runs: RunStore
  readonly engine: Engine
  readonly cwd: string
  readonly outputsDir?: string
  /** Called after runs of a pipeline were queued, to start them. */
  readonly queued: (pipeline: Pipeline) => void
}

/**
 * Message triggers: a batch of rows on a topic starts one run per row of every pipeline whose
 * `on.message.topic` is that topic. The batch is checked whole against each pipeline's message
 * schema first (a bad row rejects it, naming the row and field; nothing is queued), then all its
 * runs are recorded in one durable transaction: once `accept` returns, a crash loses nothing.
 */
export class MessageRouter {
  private readonly validators = new Map<Pipeline, ValidateFunction>()

  constructor (private readonly init: MessageRouterInit) {
    let ajv: Ajv2020 | undefined
    for (const pipeline of init.pipelines) {
      const schema = pipeline.on.message?.schema
      if (schema === undefined) continue
      ajv ??= new Ajv2020({ strict: false, allErrors: false, validateFormats: false })
      this.validators.set(pipeline, ajv.compile(schema))
    }
  }

  /** The topics some loaded pipeline listens to. */
  get topics (): string[] {
    return [...new Set(this.init.pipelines.flatMap((p) => p.on.message === undefined ? [] : [p.on.message.topic]))].sort()
  }

  /**
   * Checks and queues a batch. With a `key` (the client's idempotency key), a batch sent again
   * under the same key is not queued again: the runs of the first are returned.
   */
  accept (topic: string, rows: readonly MessageRow[], options: { key?: string } = {}): AcceptedBatch {
    const targets = this.init.pipelines.filter((p) => p.on.message?.topic === topic)
    if (targets.length === 0) {
      const topics = this.topics
      throw new MessageError(404, `no pipeline on this node listens to topic '${topic}' (${topics.length === 0 ? 'no pipeline has on.message' : `topics: ${topics.join(', ')}`})`)
    }
    if (rows.length === 0) throw new MessageError(400, 'the batch has no rows')
    for (const pipeline of targets) {
      const validate = this.validators.get(pipeline)
      if (validate === undefined) continue
      rows.forEach((row, i) => {
        if (!validate(row)) {
          const error = validate.errors?.[0]
          throw new MessageError(400, `row ${i}: ${error === undefined ? 'is invalid' : describeError(error)} (schema of pipeline ${pipeline.name}); nothing was queued`)
        }
      })
    }
    const { runs } = this.init
    const source = `message:${topic}`
    const prepared = targets.flatMap((pipeline) => rows.map((row, i) => {
      // a field the schema declares but the row leaves out reads as null (`default` gives it a value)
      const trigger = { kind: 'message' as const, message: { ...this.declared(pipeline), ...row } }
      try {
        // fields that name files must name ones the node allows: said now, not by a failed run
        this.init.engine.preflight(pipeline, { trigger, cwd: this.init.cwd })
      } catch (err) {
        if (err instanceof UserError) throw new MessageError(400, `row ${i}: ${err.message} (pipeline ${pipeline.name}); nothing was queued`)
        throw err
      }
      return { pipeline, row: i, run: prepareRun(this.init, pipeline, { trigger }) }
    }))
    const earlier = runs.atomically(() => {
      for (const [i, { pipeline, row, run }] of prepared.entries()) {
        if (options.key !== undefined) {
          const taken = runs.take({ pipeline: pipeline.name, source, key: `${options.key}#${row}`, runId: run.id })
          // a batch is taken whole, in one transaction like this one: its first row says it all
          if (taken !== undefined && i === 0) return this.earlierBatch(targets, source, options.key, rows.length)
          if (taken !== undefined) throw new MessageError(409, `idempotency key '${options.key}' was used before for a different batch; use a new key`)
        }
        runs.createRun(run)
      }
      return undefined
    }, { durable: true })
    if (earlier !== undefined) return { topic, runs: earlier, duplicate: true }
    for (const pipeline of targets) this.init.queued(pipeline)
    return { topic, runs: prepared.map(({ pipeline, row, run }) => ({ id: run.id, pipeline: pipeline.name, row })), duplicate: false }
  }

  /** The fields a pipeline's message schema declares, each null. */
  private declared (pipeline: Pipeline): Record<string, null> {
    const properties = (pipeline.on.message?.schema as { properties?: unknown } | undefined)?.properties
    if (typeof properties !== 'object' || properties === null) return {}
    return Object.fromEntries(Object.keys(properties).map((k) => [k, null]))
  }

  private earlierBatch (targets: readonly Pipeline[], source: string, key: string, count: number): AcceptedBatch['runs'] {
    const found: Array<{ id: string, pipeline: string, row: number }> = []
    for (const pipeline of targets) {
      for (let row = 0; row < count; row++) {
        const entry = this.init.runs.lastTaken(pipeline.name, source, `${key}#${row}`)
        if (entry !== undefined) found.push({ id: entry.runId, pipeline: pipeline.name, row })
      }
    }
    return found
  }
}
