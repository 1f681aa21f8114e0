/** Edit distance between two short strings (names, keys). */
function distance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost))
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

/** `" (did you mean 'x'?)"` for the closest candidate within a small distance, else `""`. */
export function didYouMean (name: string, candidates: Iterable<string>): string {
  let best: string | undefined
  let bestDistance = Infinity
  const lower = name.toLowerCase()
  for (const candidate of candidates) {
    const d = distance(lower, candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  const limit = Math.max(1, Math.floor(name.length / 3))
  return best !== undefined && bestDistance <= limit ? ` (did you mean '${best}'?)` : ''
}

/** Quotes and joins names for a message: `'a', 'b' and 'c'`. */
export function listNames (names: readonly string[]): string {
  const quoted = names.map((n) => `'${n}'`)
  if (quoted.length <= 1) return quoted.join('')
  return `${quoted.slice(0, -1).join(', ')} and ${quoted[quoted.length - 1] ?? ''}`
}
