import type { Findings } from './findings.js'
import { asMap, asString, type RawMap } from './raw.js'
import type { JsonPath } from './source.js'
import { parseDuration, parseSize } from './units.js'

/**
 * Checks what a step or job template runs and where: exactly one of `uses`/`run`/`command`
 * (`uses` only in steps), `args` and `shell` only with what they belong to, `image` only with
 * the vm executor, durations above zero, sizes that parse.
 */
export function checkBody (findings: Findings, at: JsonPath, raw: RawMap, where: string, allowUses: boolean): void {
  const kinds = (allowUses ? ['uses', 'run', 'command'] : ['run', 'command']).filter((k) => raw[k] !== undefined)
  if (kinds.length === 0) {
    findings.error(at, 'key', 'step/kind', `${where} has nothing to run: ` +
      `give one of ${allowUses ? 'uses (a job template), run (a shell command) or command (a program, with args)' : 'run (a shell command) or command (a program, with args)'}`)
  } else if (kinds.length > 1) {
    findings.error([...at, kinds[1] ?? ''], 'key', 'step/kind', `${where} has both '${kinds[0] ?? ''}' and '${kinds[1] ?? ''}': keep one`)
  }
  if (raw.args !== undefined && raw.command === undefined) {
    findings.error([...at, 'args'], 'key', 'step/args-without-command', `${where} has 'args' but no 'command': args are the arguments of command (for a shell string use run)`)
  }
  if (raw.shell !== undefined && raw.run === undefined) {
    findings.error([...at, 'shell'], 'key', 'step/shell-without-run', `${where} has 'shell' but no 'run'`)
  }
  if (raw.image !== undefined && raw.executor !== 'vm') {
    findings.error([...at, 'image'], 'key', 'step/image-without-vm', `${where} has an 'image', which only the vm executor uses: add 'executor: vm' or remove image`)
  }
  const timeout = asString(raw.timeout)
  if (timeout !== undefined && parseDuration(timeout) === 0) {
    findings.error([...at, 'timeout'], 'value', 'duration/invalid', `${where}: timeout must be longer than 0`)
  }
  const memory = asMap(raw.resources)?.memory
  const bytes = typeof memory === 'string' || typeof memory === 'number' ? parseSize(memory) : undefined
  if (bytes !== undefined && bytes < 1024 * 1024) {
    findings.error([...at, 'resources', 'memory'], 'value', 'resources/memory', `${where}: memory '${String(memory)}' is not a size of at least 1M (e.g. 256M, 2G)`)
  }
}
