/**
 * Accessors for the raw YAML data. Semantic checks run even where the schema found problems (so a
 * user sees every problem at once), so they read the data defensively through these.
 */
export type RawMap = Readonly<Record<string, unknown>>

export function asMap (value: unknown): RawMap | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as RawMap : undefined
}

export function asString (value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

export function asList (value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : []
}

/** A value that may be one string or a list of strings (`needs`, `runs-on`). */
export function asStrings (value: unknown): string[] {
  if (typeof value === 'string') return [value]
  return asList(value).filter((v): v is string => typeof v === 'string')
}

export function entries (value: unknown): Array<[string, unknown]> {
  return Object.entries(asMap(value) ?? {})
}
