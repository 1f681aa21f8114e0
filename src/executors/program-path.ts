import { accessSync, constants, statSync } from 'node:fs'
import path from 'node:path'

/**
 * The file `execvp` would run for `program`: a name with a slash is taken from `cwd`, any other is
 * looked for in each folder of `searchPath` in turn. Undefined when there is no such executable
 * file. Giving the wrapper that starts a step a full path also keeps a shell's builtins (`echo`,
 * `printf`, `exec`) from standing in for the program.
 */
export function programPath (program: string, searchPath: string, cwd: string): string | undefined {
  if (program === '') return undefined
  if (program.includes('/')) {
    const file = path.resolve(cwd, program)
    return executable(file) ? file : undefined
  }
  for (const dir of searchPath.split(':')) {
    const file = path.resolve(cwd, dir === '' ? '.' : dir, program)
    if (executable(file)) return file
  }
  return undefined
}

function executable (file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return statSync(file).isFile()
  } catch {
    return false
  }
}
