import { Command, CommanderError, Option } from 'commander'
import { DEFAULT_VALIDATE_PATHS, VERSION } from '../index.js'
import { schemaCommand } from './commands/schema.js'
import { validateCommand } from './commands/validate.js'
import { EXIT, reportError } from './exit.js'
import { FORMATS } from './format.js'
import { processIo, type Io } from './io.js'

/** Builds the command tree; each action stores its exit code in `result`. */
function program (io: Io, result: { code: number }): Command {
  const root = new Command('bac')
    .description('Declarative pipelines over content-addressed data.')
    .version(VERSION, '-V, --version')
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()

  root.command('validate')
    .description(`Check pipelines and job templates; prints file:line:col for every problem (default: ${DEFAULT_VALIDATE_PATHS.join(' ')})`)
    .argument('[paths...]', 'files or folders to check')
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('text'))
    .option('-q, --quiet', 'print errors only, no warnings')
    .action((paths: string[], options: { format: string, quiet?: boolean }) => {
      result.code = validateCommand(paths, options, io)
    })

  root.command('schema')
    .description('Print the JSON schema of pipelines (or of job templates with --job), for editors')
    .option('--job', 'the schema of jobstore/ templates')
    .action((options: { job?: boolean }) => {
      result.code = schemaCommand(options, io)
    })

  return root
}

/** Runs the CLI and returns its exit code; the only place that knows about exit codes. */
export async function main (argv: readonly string[], io: Io = processIo()): Promise<number> {
  const result = { code: EXIT.ok as number }
  try {
    await program(io, result).parseAsync([...argv])
    return result.code
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; bad usage with 1, which bac reports as 2
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage
    }
    return reportError(err, io.err)
  }
}
