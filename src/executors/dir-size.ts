import { lstat, readdir } from 'node:fs/promises'
import path from 'node:path'

/** Bytes held by the files under a folder (links are not followed, and count as their own size). */
export async function dirSize (dir: string): Promise<number> {
  let total = 0
  const pending = [dir]
  while (pending.length > 0) {
    const current = pending.pop() as string
    let entries
    try {
      entries = await readdir(current, { withFileTypes: true })
    } catch {
      continue
    }
    for (const entry of entries) {
      const full = path.join(current, entry.name)
      if (entry.isDirectory()) pending.push(full)
      else total += (await lstat(full)).size
    }
  }
  return total
}
