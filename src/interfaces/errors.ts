/**
 * Every kind of failure bac reports has its own class here. Code tells them apart by `name` (or
 * `instanceof`), never by message text. A `UserError` is a mistake the user can fix (bad YAML, a
 * missing file, an unknown step): the CLI prints its message in one or two lines, never a stack.
 */

/** Base of all bac errors: `name` is the concrete class name. */
export class BacError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A mistake the user can fix; its message says what, where and what to do. */
export class UserError extends BacError {}

/** A command was called wrongly: bad flags, a path that does not exist (exit code 2). */
export class UsageError extends UserError {}

/** A file could not be read. */
export class FileReadError extends UserError {
  readonly file: string
  constructor (file: string, options?: { cause?: unknown }) {
    const reason = (options?.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
      ? 'no such file'
      : String((options?.cause as Error | undefined)?.message ?? 'unreadable')
    super(`${file}: cannot read: ${reason}`, options)
    this.file = file
  }
}

/** An option passed to a factory or function has an invalid value; names the option. */
export class InvalidOptionError extends UserError {
  readonly option: string
  constructor (option: string, message: string) {
    super(`invalid option ${option}: ${message}`)
    this.option = option
  }
}

/** A template failed to parse or render (unknown name, bad helper call). */
export class TemplateError extends UserError {
  /** 1-based line and column inside the template text, where known. */
  readonly line: number | undefined
  readonly column: number | undefined
  constructor (message: string, init: { line?: number, column?: number, cause?: unknown } = {}) {
    super(message, { cause: init.cause })
    this.line = init.line
    this.column = init.column
  }
}
