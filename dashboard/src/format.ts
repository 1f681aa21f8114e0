/** Short forms the pages share. */
export function duration (ms: number | undefined): string {
  if (ms === undefined || ms < 0) return '-'
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`
}

export function when (ms: number | undefined): string {
  if (ms === undefined) return '-'
  return new Date(ms).toLocaleString()
}

export function size (bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`
}

/** How a run was started, in a few words: the file dropped, the message's topic, the schedule, or by hand. */
export function triggerText (trigger: Record<string, unknown>): string {
  const kind = String(trigger.kind ?? 'manual')
  const file = trigger.file as { source?: unknown, name?: unknown } | undefined
  if (kind === 'watch') return `file ${String(file?.source ?? file?.name ?? '')}`
  if (kind === 'message') return 'message'
  if (kind === 'schedule') return `schedule ${String(trigger.time ?? '')}`
  return kind
}

export function short (cid: string | undefined): string {
  return cid === undefined ? '-' : `${cid.slice(0, 10)}…${cid.slice(-6)}`
}
