import path from 'node:path'
import type { Problem } from '../index.js'

export type Format = 'text' | 'json' | 'github'
export const FORMATS: readonly Format[] = ['text', 'json', 'github']

/** A file as the user wants to read it: relative to the working folder when inside it. */
export function displayPath (file: string): string {
  if (!path.isAbsolute(file)) return file
  const relative = path.relative(process.cwd(), file)
  return relative.startsWith('..') ? file : relative
}

function color (enabled: boolean, code: number, text: string): string {
  return enabled ? `\u001b[${code}m${text}\u001b[0m` : text
}

/** `file:line:col: error: message [rule]`, one problem a line. */
export function formatText (problems: readonly Problem[], colors: boolean): string {
  return problems.map((p) => {
    const severity = p.severity === 'error' ? color(colors, 31, 'error') : color(colors, 33, 'warning')
    return `${displayPath(p.file)}:${p.line}:${p.column}: ${severity}: ${p.message} ${color(colors, 2, `[${p.rule}]`)}\n`
  }).join('')
}

/** GitHub Actions workflow commands, so problems show as annotations on the pull request. */
export function formatGithub (problems: readonly Problem[]): string {
  const data = (s: string): string => s.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A')
  const property = (s: string): string => data(s).replaceAll(':', '%3A').replaceAll(',', '%2C')
  return problems.map((p) =>
    `::${p.severity} file=${property(displayPath(p.file))},line=${p.line},col=${p.column},title=${property(p.rule)}::${data(p.message)}\n`
  ).join('')
}

export function formatJson (files: readonly string[], problems: readonly Problem[]): string {
  return `${JSON.stringify({
    files: files.map(displayPath),
    errors: problems.filter((p) => p.severity === 'error').length,
    warnings: problems.filter((p) => p.severity === 'warning').length,
    problems: problems.map((p) => ({ ...p, file: displayPath(p.file) }))
  }, null, 2)}\n`
}

/** The closing line on stderr: what was checked and what was found. */
export function summary (files: number, errors: number, warnings: number): string {
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`
  if (errors === 0 && warnings === 0) return `${plural(files, 'file')} valid\n`
  return `${plural(errors, 'error')}, ${plural(warnings, 'warning')} in ${plural(files, 'file')} checked\n`
}
