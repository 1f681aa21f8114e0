/** Where a command writes; tests and programs can capture it. */
export interface Io {
  out: (text: string) => void
  err: (text: string) => void
  /** Whether to color output (a terminal, and NO_COLOR unset). */
  colors: boolean
  /** Whether stderr is a terminal that can redraw lines (a live view instead of plain lines). */
  interactive?: boolean
}

export function processIo (): Io {
  return {
    out: (text) => { process.stdout.write(text) },
    err: (text) => { process.stderr.write(text) },
    colors: process.stdout.isTTY === true && process.env.NO_COLOR === undefined && process.env.TERM !== 'dumb',
    interactive: process.stderr.isTTY === true && process.env.TERM !== 'dumb' && process.env.CI === undefined
  }
}
