import { getSchema } from '../../index.js'
import { EXIT } from '../exit.js'
import type { Io } from '../io.js'

/** `bac schema [--job]`: prints the JSON schema for editors and other tools. */
export function schemaCommand (options: { job?: boolean }, io: Io): number {
  io.out(`${JSON.stringify(getSchema(options.job === true ? 'job' : 'pipeline'), null, 2)}\n`)
  return EXIT.ok
}
