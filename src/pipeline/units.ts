const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4
}

/**
 * Parses a duration such as `30s`, `10m`, `1h30m` or `500ms` into milliseconds.
 * Returns undefined when the text is not a duration.
 */
export function parseDuration (text: string): number | undefined {
  const compact = text.replace(/\s+/g, '')
  if (!/^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$/.test(compact)) return undefined
  let total = 0
  for (const [, amount, unit] of compact.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)/g)) {
    total += Number(amount) * (DURATION_UNITS[unit ?? ''] ?? 0)
  }
  return Math.round(total)
}

/** Parses a size such as `512M`, `2G`, `256MiB` or a number of bytes. Binary units (K = 1024). */
export function parseSize (value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined
  const match = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(value)
  const unit = SIZE_UNITS[(match?.[2] ?? 'x').toLowerCase()]
  if (match === null || unit === undefined) return undefined
  return Math.round(Number(match[1]) * unit)
}
