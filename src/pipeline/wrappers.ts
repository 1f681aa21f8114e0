import { programName } from './interpreters.js'
import type { ShellWord } from './shell-word.js'

/** Options (of the wrappers below) that take the next word as their argument. */
const WRAPPERS: Readonly<Record<string, { readonly arg: RegExp, readonly skip?: number, readonly assignments?: boolean, readonly stopAt?: RegExp }>> = {
  env: { arg: /^-[uCS]$|^--(unset|chdir|split-string)$/, assignments: true },
  exec: { arg: /^-a$/ },
  nice: { arg: /^-n$/ },
  nohup: { arg: /^$/ },
  setsid: { arg: /^$/ },
  time: { arg: /^-[fo]$/ },
  command: { arg: /^$/, stopAt: /^-[vV]$/ },
  timeout: { arg: /^-[sk]$|^--(signal|kill-after)$/, skip: 1 },
  stdbuf: { arg: /^-[ioe]$/ },
  sudo: { arg: /^-[ugCDhprtUT]$|^--(user|group|close-from|chdir|host|prompt|role|type|other-user|command-timeout)$/, assignments: true },
  doas: { arg: /^-[uC]$/ },
  ionice: { arg: /^-[cnp]$/ },
  chronic: { arg: /^$/ },
  unbuffer: { arg: /^$/ },
  busybox: { arg: /^$/ },
  xargs: { arg: /^-[ILnPsdEa]$|^--(arg-file|delimiter|max-args|max-procs|max-chars|max-lines|eof|process-slot-var)$/ }
}

/**
 * The command a wrapper runs (`env X=1 sed …` runs `sed …`; `xargs -0 sh -c …` runs `sh -c …`),
 * unwrapped as often as it is wrapped; the words themselves when there is no wrapper. Empty when
 * the wrapper runs nothing it is given (`command -v sed`). `stdin` is false when the command's
 * standard input is not the script's (`xargs` reads it).
 */
export function unwrap (words: readonly ShellWord[]): { words: readonly ShellWord[], stdin: boolean } {
  let rest = words
  let stdin = true
  for (let round = 0; round < 8; round++) {
    const name = programName(rest[0]) ?? ''
    const wrapper = WRAPPERS[name]
    if (wrapper === undefined) break
    if (name === 'xargs') stdin = false
    let i = 1
    for (; i < rest.length; i++) {
      const text = rest[i]?.literal
      if (text === undefined) break
      if (wrapper.stopAt?.test(text) === true) return { words: [], stdin }
      if (text === '--') { i++; break }
      if (wrapper.assignments === true && /^[A-Za-z_][A-Za-z0-9_]*=/.test(text)) continue
      if (!text.startsWith('-') || text === '-') break
      if (wrapper.arg.test(text)) i++
    }
    rest = rest.slice(i + (wrapper.skip ?? 0))
  }
  return { words: rest, stdin }
}

/** The commands `find … -exec cmd … ;` runs (`-execdir`, `-ok`, `-okdir` too). */
export function findCommands (words: readonly ShellWord[]): Array<readonly ShellWord[]> {
  if (programName(words[0]) !== 'find') return []
  const commands: Array<readonly ShellWord[]> = []
  for (let i = 1; i < words.length; i++) {
    if (!/^-(exec|execdir|ok|okdir)$/.test(words[i]?.literal ?? '')) continue
    const start = i + 1
    let end = start
    while (end < words.length && words[end]?.literal !== ';' && words[end]?.literal !== '+') end++
    commands.push(words.slice(start, end))
    i = end
  }
  return commands
}
