import { encodeMessages, endOfEvent, readRegularFile, UsageError, UserError, type MessageFormat, type RunEnd } from '../../index.js'
import { withBacNode, type NodeOptions } from '../node-session.js'
import { EXIT } from '../exit.js'
import type { Io } from '../io.js'

export interface MessageSendOptions extends NodeOptions {
  field?: string[]
  typedField?: string[]
  file?: string
  arrow?: boolean
  ndjson?: boolean
  key?: string
  wait?: boolean
  json?: boolean
}

/** The most a batch file may hold: what a node takes in one request. */
const MAX_BATCH_BYTES = 64 * 1024 * 1024

/** `k=v` pairs into a row: `--field` values are text; `--typed-field` values are JSON (numbers, true, null, lists). */
export function rowFromFields (fields: readonly string[], typed: readonly string[]): Record<string, unknown> {
  const row: Record<string, unknown> = {}
  const split = (pair: string, flag: string): [string, string] => {
    const at = pair.indexOf('=')
    if (at <= 0) throw new UsageError(`${flag} takes name=value, got '${pair}'`)
    return [pair.slice(0, at), pair.slice(at + 1)]
  }
  for (const pair of fields) {
    const [k, v] = split(pair, '--field')
    row[k] = v
  }
  for (const pair of typed) {
    const [k, v] = split(pair, '--typed-field')
    try {
      row[k] = JSON.parse(v)
    } catch {
      throw new UsageError(`--typed-field ${k}: '${v}' is not a JSON value (quote text with --field instead)`)
    }
  }
  return row
}

/** Rows from a file: a JSON object or array, or NDJSON (`.ndjson`/`.jsonl`), or Arrow IPC sent as is (`.arrow`). */
async function rowsFromFile (file: string): Promise<{ rows?: Array<Record<string, unknown>>, raw?: { body: Uint8Array, contentType: string } }> {
  let bytes: Buffer
  try {
    // a regular file only (a FIFO or /dev/zero is refused, never read), and at most one request's worth
    bytes = await readRegularFile(file, MAX_BATCH_BYTES, 'a batch of messages')
  } catch (err) {
    if (err instanceof UserError) throw new UsageError(err.message)
    throw new UsageError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`)
  }
  if (/\.(arrow|arrows|feather|ipc)$/i.test(file)) {
    const stream = bytes.subarray(0, 6).toString('latin1') !== 'ARROW1'
    return { raw: { body: bytes, contentType: stream ? 'application/vnd.apache.arrow.stream' : 'application/vnd.apache.arrow.file' } }
  }
  const text = bytes.toString('utf8')
  try {
    if (/\.(ndjson|jsonl)$/i.test(file)) return { rows: text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>) }
    const value = JSON.parse(text) as unknown
    return { rows: (Array.isArray(value) ? value : [value]) as Array<Record<string, unknown>> }
  } catch (err) {
    throw new UsageError(`${file}: not JSON: ${(err as Error).message}`)
  }
}

/**
 * `bac message send <topic>`: posts one message (`--field`) or a batch (`--file`) to the node
 * serving on the data dir (or `--node <url>`), as JSON or Apache Arrow; prints the queued run ids.
 * With `--wait`, waits for the runs and prints their result CIDs; exit 1 when one did not succeed.
 */
export async function messageSendCommand (topic: string, options: MessageSendOptions, io: Io): Promise<number> {
  const fields = options.field ?? []
  const typed = options.typedField ?? []
  if (options.file !== undefined && fields.length + typed.length > 0) throw new UsageError('give --file or --field, not both')
  if (options.file === undefined && fields.length + typed.length === 0) throw new UsageError('give the message as --field name=value (repeatable) or a file of rows with --file')
  const format: MessageFormat = options.arrow === true ? 'arrow' : (options.ndjson === true ? 'ndjson' : 'json')
  const fromFile = options.file === undefined ? undefined : await rowsFromFile(options.file)
  const body = fromFile?.raw ?? await encodeMessages(fromFile?.rows ?? [rowFromFields(fields, typed)], format)
  return await withBacNode(options, async (node) => {
    const batch = await node.sendMessages(topic, { ...body, ...(options.key !== undefined ? { key: options.key } : {}) })
    if (options.json === true && options.wait !== true) io.out(`${JSON.stringify(batch)}\n`)
    else if (options.wait !== true) for (const run of batch.runs) io.out(`${run.id}\n`)
    io.err(`${batch.runs.length} run${batch.runs.length === 1 ? '' : 's'} ${batch.duplicate ? 'were already queued under this key' : 'queued'} ` +
      `on ${node.where} (${[...new Set(batch.runs.map((r) => r.pipeline))].join(', ')})\n`)
    if (options.wait !== true) return EXIT.ok
    let failed = false
    for (const queued of batch.runs) {
      // each run followed to its end (its events, not a poll of its record)
      let end: RunEnd | undefined
      for await (const event of node.follow(queued.id)) if (event.type === 'run:end') end = endOfEvent(event)
      if (end === undefined) throw new UserError(`the node at ${node.where} stopped sending before run ${queued.id} ended; bac job describe ${queued.id} tells how it went`)
      if (end.status !== 'succeeded') failed = true
      if (options.json === true) io.out(`${JSON.stringify({ id: queued.id, pipeline: queued.pipeline, row: queued.row, status: end.status, resultCid: end.resultCid, reason: end.reason })}\n`)
      else {
        if (end.resultCid !== undefined) io.out(`${end.resultCid}\n`)
        io.err(`run ${queued.id} (${queued.pipeline}, row ${queued.row}) ${end.status}${end.reason !== undefined ? `: ${end.reason}` : ''}\n`)
      }
    }
    return failed ? EXIT.failed : EXIT.ok
  })
}
