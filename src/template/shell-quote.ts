/** Characters that never need quoting in a POSIX shell word. */
const SAFE = /^[A-Za-z0-9@%+=:,./_-]+$/

/**
 * Quotes a string as one POSIX shell word: left as is when it only holds safe characters,
 * otherwise single-quoted with embedded single quotes written as `'"'"'`.
 *
 * @example
 * shellQuote('a b') // "'a b'"
 * shellQuote("it's") // "'it'\"'\"'s'"
 */
export function shellQuote (value: string): string {
  if (value === '') return "''"
  if (SAFE.test(value)) return value
  return `'${value.replaceAll("'", `'"'"'`)}'`
}

/** A list rendered as separate shell words by the `words` helper. */
export class ShellWords {
  constructor (readonly items: readonly string[]) {}
}
