import path from 'node:path'
import { UserError } from '../interfaces/errors.js'
import { decodeUtf8 } from './encoding.js'
import { readOrRefusal, type ValidatorFiles } from './files.js'
import { ajvClass, lazy, load } from './lazy.js'
import type { Findings } from './findings.js'
import { asMap, asString, type RawMap } from './raw.js'
import type { JsonPath } from './source.js'

const picomatch = lazy(() => load('picomatch') as typeof import('picomatch'))
const cron = lazy(() => (load('cron-parser') as typeof import('cron-parser')).CronExpressionParser)

/** Checks a glob parses; picomatch accepts almost anything, so unbalanced brackets are made errors. */
export function checkGlob (findings: Findings, at: JsonPath, glob: string): void {
  try {
    picomatch().makeRe(glob, { strictBrackets: true })
  } catch (err) {
    findings.error(at, 'value', 'glob/invalid', `'${glob}' is not a valid glob: ${err instanceof Error ? err.message : String(err)}`)
  }
}

function checkCron (findings: Findings, at: JsonPath, expression: string, timezone: string | undefined): void {
  const fields = expression.trim().split(/\s+/)
  if (!expression.trim().startsWith('@') && fields.length !== 5 && fields.length !== 6) {
    findings.error(at, 'value', 'cron/invalid', `cron '${expression}' has ${fields.length} fields; give 5 (minute hour day month weekday) or 6 (seconds first)`)
    return
  }
  try {
    cron().parse(expression, { tz: timezone ?? 'UTC' })
  } catch (err) {
    findings.error(at, 'value', 'cron/invalid', `cron '${expression}' is invalid: ${err instanceof Error ? err.message : String(err)}`)
  }
}

function checkTimezone (findings: Findings, at: JsonPath, timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone }).format(0)
    return true
  } catch {
    findings.error(at, 'value', 'timezone/invalid', `'${timezone}' is not a known timezone (use an IANA name such as Europe/Paris or UTC)`)
    return false
  }
}

/** Reads a message schema file through `files`: its JSON, or why not (reported at `at`). */
function readSchemaFile (findings: Findings, at: JsonPath, file: string, pipelineFile: string, files: ValidatorFiles): { json: unknown } | undefined {
  const resolved = path.resolve(path.dirname(pipelineFile), file)
  const bytes = files.kind(resolved) === undefined ? undefined : readOrRefusal(files, resolved, 'message schema')
  if (bytes === undefined || bytes instanceof UserError) {
    findings.error(at, 'value', 'message/schema', `cannot load the message schema ${file}: ${bytes?.message ?? `no such file (looked for ${path.relative(process.cwd(), resolved)})`}`)
    return undefined
  }
  const decoded = decodeUtf8(bytes)
  if ('fault' in decoded) {
    findings.error(at, 'value', 'message/schema', `cannot load the message schema ${file}: at line ${decoded.fault.line}, column ${decoded.fault.column}, ${decoded.fault.message}`)
    return undefined
  }
  try {
    return { json: JSON.parse(decoded.text) }
  } catch (err) {
    findings.error(at, 'value', 'message/schema', `cannot load the message schema ${file}: ${err instanceof Error ? err.message : String(err)}`)
    return undefined
  }
}

/**
 * Loads and compiles the message schema (inline, or a .json file relative to the pipeline, read
 * through `files`). Returns it, or undefined after reporting why it cannot be used.
 */
export function loadMessageSchema (findings: Findings, at: JsonPath, value: unknown, pipelineFile: string, files: ValidatorFiles): RawMap | undefined {
  let schema = asMap(value)
  const file = asString(value)
  if (file !== undefined) {
    const read = readSchemaFile(findings, at, file, pipelineFile, files)
    if (read === undefined) return undefined
    schema = asMap(read.json)
    if (schema === undefined) {
      findings.error(at, 'value', 'message/schema', `the message schema ${file} is not a JSON object`)
      return undefined
    }
  }
  if (schema === undefined) return undefined
  try {
    new (ajvClass())({ strict: false, allErrors: true, validateFormats: false }).compile(schema)
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).replace(/^schema is invalid: /, '').split(', ')[0] ?? ''
    findings.error(at, 'value', 'message/schema', `the message schema is not a valid JSON schema: ${reason.replace(/^data\/?/, '') || 'invalid'}`)
    return undefined
  }
  return schema
}

/** Checks `on:` beyond its schema; returns the message schema when there is a usable one. */
export function checkTriggers (findings: Findings, on: RawMap | undefined, pipelineFile: string, files: ValidatorFiles): RawMap | undefined {
  const watch = asMap(on?.watch)
  const glob = asString(watch?.glob)
  if (glob !== undefined) checkGlob(findings, ['on', 'watch', 'glob'], glob)
  const schedule = asMap(on?.schedule)
  const timezone = asString(schedule?.timezone)
  const zoneOk = timezone === undefined || checkTimezone(findings, ['on', 'schedule', 'timezone'], timezone)
  const expression = asString(schedule?.cron)
  if (expression !== undefined && zoneOk) checkCron(findings, ['on', 'schedule', 'cron'], expression, timezone)
  const message = asMap(on?.message)
  return message?.schema === undefined ? undefined : loadMessageSchema(findings, ['on', 'message', 'schema'], message.schema, pipelineFile, files)
}
