import { UsageError, UserError } from '../index.js'

/** Exit codes, as actionlint and most CLIs use them. */
export const EXIT = { ok: 0, failed: 1, usage: 2, cancelled: 130 } as const

/**
 * Prints an error the way a user should see it and returns the exit code: a user mistake in one
 * or two lines, anything else as a short bug report (the stack only with DEBUG set).
 */
export function reportError (err: unknown, write: (text: string) => void): number {
  if (err instanceof UsageError) {
    write(`bac: ${err.message}\n`)
    return EXIT.usage
  }
  if (err instanceof UserError) {
    write(`bac: ${err.message}\n`)
    return EXIT.failed
  }
  const e = err instanceof Error ? err : new Error(String(err))
  write(`bac: internal error: ${e.message}\n`)
  write(process.env.DEBUG === undefined ? 'This is a bug in bac; run again with DEBUG=bac:* for details and report it.\n' : `${e.stack ?? ''}\n`)
  return EXIT.failed
}
