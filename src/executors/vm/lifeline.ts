import { existsSync } from 'node:fs'

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((c) => existsSync(c))

/**
 * A command that the kernel kills (SIGKILL) when the process that starts it ends, however it ends
 * (kill -9 included): `setpriv --pdeathsig KILL` (util-linux) sets it and execs the command, so
 * the command keeps its pid and its parent. A VM (a step's, the one that saves a ready state, the
 * KVM probe) must never outlive bac: a paused VM would wait for ever. Without setpriv, as given.
 */
export function dyingWithBac (file: string, args: readonly string[]): { file: string, args: string[] } {
  return SETPRIV === undefined ? { file, args: [...args] } : { file: SETPRIV, args: ['--pdeathsig', 'KILL', '--', file, ...args] }
}
