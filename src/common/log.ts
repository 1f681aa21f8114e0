/**
 * bac's debug log: what the scheduler, network, storage, triggers and executors do, one line
 * each on stderr, off unless asked for. `DEBUG=bac:*` (or a list such as `bac:scheduler,bac:network`,
 * as the `debug` package reads it) or `BAC_LOG_LEVEL=debug` (`bac --log-level debug`) turns it on;
 * `BAC_LOG_FORMAT=json` (a command's `--json`) makes each line a JSON object:
 * `{"time","level","scope","msg",…fields}`.
 */

export interface Logger {
  /** Whether lines of this scope are written (so a caller can skip building costly fields). */
  readonly enabled: boolean
  debug: (msg: string, fields?: Readonly<Record<string, unknown>>) => void
}

/** What the command line said (`--log-level`, a command's `--json`), over the environment's word. */
const configured: { level?: string, json?: boolean } = {}

/** Sets the log's level and format from the command line; loggers made before read it when they first write. */
export function configureLog (options: { readonly level?: string, readonly json?: boolean }): void {
  if (options.level !== undefined) configured.level = options.level
  if (options.json !== undefined) configured.json = options.json
}

function patterns (): RegExp[] {
  const debug = process.env.DEBUG ?? ''
  const level = (configured.level ?? process.env.BAC_LOG_LEVEL ?? '').toLowerCase()
  const list = debug.split(/[\s,]+/).filter((p) => p !== '' && !p.startsWith('-'))
  if (level === 'debug') list.push('bac:*')
  return list.map((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`))
}

/** A field's value as text shows it: short, one line. */
function shown (value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value)
  const flat = text.replace(/[\u0000-\u001f\u007f]/g, ' ')
  return flat.length > 300 ? `${flat.slice(0, 299)}…` : flat
}

/** The logger of a part of bac (`scheduler`, `network`, …), its scope `bac:<part>`. */
export function logger (part: string): Logger {
  const scope = `bac:${part}`
  let enabled: boolean | undefined
  const on = (): boolean => (enabled ??= patterns().some((p) => p.test(scope)))
  return {
    get enabled () { return on() },
    debug (msg, fields = {}) {
      if (!on()) return
      const time = new Date().toISOString()
      const line = (configured.json ?? process.env.BAC_LOG_FORMAT === 'json')
        ? JSON.stringify({ time, level: 'debug', scope, msg, ...fields })
        : `${time} ${scope} ${msg}${Object.entries(fields).map(([k, v]) => ` ${k}=${shown(v)}`).join('')}`
      process.stderr.write(`${line}\n`)
    }
  }
}
