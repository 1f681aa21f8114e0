import path from 'node:path'
import { readRegularFileSync } from '../../common/files.js'
import { ImageBuildError } from '../../interfaces/errors.js'

/** What an imported image's OCI config asks of the processes run in it, as a step honours it. */
export interface ImageConfig {
  /** `NAME=value` pairs (the image's `Env`), set before the step's own env. */
  readonly env: readonly string[]
  /** The folder steps start in (`WorkingDir`); made when it is missing. */
  readonly workingDir?: string
  /** The user steps run as (`User`), resolved to numbers in the image's own /etc/passwd and /etc/group. */
  readonly user?: { readonly uid: number, readonly gid: number, readonly name: string }
  /** Kept as the image gives them. */
  readonly entrypoint?: readonly string[]
  readonly cmd?: readonly string[]
}

/** The most one JSON document of the layout (index, manifest, config) may hold. */
const MAX_JSON = 1024 * 1024

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const strings = (v: unknown, max: number): v is string[] => Array.isArray(v) && v.length <= max && v.every((s) => typeof s === 'string' && s.length <= 65536 && !s.includes('\0'))

/** A JSON document of an OCI layout, read only inside it (a link out of it is refused). */
function layoutJson (layout: string, relative: string, what: string): unknown {
  try {
    return JSON.parse(readRegularFileSync(path.join(layout, relative), MAX_JSON, what, { within: { roots: [layout], except: [] } }).toString('utf8'))
  } catch (err) {
    throw new ImageBuildError(`the archive's ${what} cannot be read: ${(err as Error).message}`)
  }
}

/** A blob of the layout by its digest (sha256 only). */
function blob (layout: string, digest: unknown, what: string): unknown {
  if (typeof digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw new ImageBuildError(`the archive's ${what} is not named by a sha256 digest`)
  return layoutJson(layout, path.join('blobs', 'sha256', digest.slice(7)), what)
}

/** `name:x:1000:...` lines of an /etc/passwd or /etc/group of the image, read inside its root filesystem. */
function entries (rootfs: string, file: string): string[][] {
  try {
    return readRegularFileSync(path.join(rootfs, 'etc', file), MAX_JSON, `the image's /etc/${file}`, { within: { roots: [rootfs], except: [] } })
      .toString('utf8').split('\n').map((l) => l.split(':'))
  } catch {
    return []
  }
}

/** `User` (`name`, `uid`, `name:group`, `uid:gid`) as numbers, from the image's own files. */
function resolveUser (user: string, rootfs: string): ImageConfig['user'] {
  const [who = '', group] = user.split(':')
  const passwd = entries(rootfs, 'passwd')
  const entry = /^\d+$/.test(who) ? passwd.find((e) => e[2] === who) : passwd.find((e) => e[0] === who)
  const uid = /^\d+$/.test(who) ? Number(who) : (entry !== undefined ? Number(entry[2]) : NaN)
  if (!Number.isInteger(uid) || uid < 0 || uid > 2 ** 31) throw new ImageBuildError(`the image's User '${user}' is not in its /etc/passwd`)
  let gid = entry !== undefined ? Number(entry[3]) : uid
  if (group !== undefined) {
    const named = /^\d+$/.test(group) ? undefined : entries(rootfs, 'group').find((e) => e[0] === group)
    gid = /^\d+$/.test(group) ? Number(group) : (named !== undefined ? Number(named[2]) : NaN)
  }
  if (!Number.isInteger(gid) || gid < 0 || gid > 2 ** 31) throw new ImageBuildError(`the image's User '${user}' names a group that is not in its /etc/group`)
  return { uid, gid, name: user }
}

/**
 * The config of the image an OCI layout holds under `ref` (what `skopeo copy` wrote), checked:
 * every document read inside the layout, bounded, and of the types the OCI image spec gives.
 */
export function readOciConfig (layout: string, ref: string, rootfs: string): ImageConfig {
  const index = layoutJson(layout, 'index.json', 'index')
  const manifests = isObject(index) && Array.isArray(index.manifests) ? index.manifests.filter(isObject) : []
  const chosen = manifests.find((m) => isObject(m.annotations) && m.annotations['org.opencontainers.image.ref.name'] === ref) ?? manifests[0]
  if (chosen === undefined) throw new ImageBuildError('the archive names no image')
  const manifest = blob(layout, chosen.digest, 'manifest')
  const config = blob(layout, isObject(manifest) && isObject(manifest.config) ? manifest.config.digest : undefined, 'image config')
  const c = isObject(config) && isObject(config.config) ? config.config : {}
  const env = c.Env ?? []
  if (!strings(env, 1000) || !env.every((e) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(e))) throw new ImageBuildError('the image config\'s Env is not a list of NAME=value')
  const workingDir = c.WorkingDir === undefined || c.WorkingDir === '' ? undefined : c.WorkingDir
  if (workingDir !== undefined && (typeof workingDir !== 'string' || !workingDir.startsWith('/') || workingDir.length > 4096 || workingDir.includes('\0'))) {
    throw new ImageBuildError('the image config\'s WorkingDir is not an absolute path')
  }
  const user = c.User === undefined || c.User === '' ? undefined : c.User
  if (user !== undefined && (typeof user !== 'string' || user.length > 256 || !/^[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)?$/.test(user))) throw new ImageBuildError('the image config\'s User is not a user')
  const list = (v: unknown, what: string): string[] | undefined => {
    if (v === undefined || v === null) return undefined
    if (!strings(v, 1000)) throw new ImageBuildError(`the image config's ${what} is not a list of strings`)
    return v
  }
  const entrypoint = list(c.Entrypoint, 'Entrypoint')
  const cmd = list(c.Cmd, 'Cmd')
  return {
    env,
    ...(workingDir !== undefined ? { workingDir } : {}),
    ...(user !== undefined ? { user: resolveUser(user, rootfs) } : {}),
    ...(entrypoint !== undefined ? { entrypoint } : {}),
    ...(cmd !== undefined ? { cmd } : {})
  }
}
