import { cidAlone } from '../common/cid.js'
import type { DataRef } from './data.js'
import type { InputValue } from './inputs.js'

/**
 * Where a template is rendered: `exec` for what a command sees (`run`, `command`, `args`, `env`),
 * where content renders as its path; `data` for references to content (`with`, step `inputs`),
 * where it renders as its CID, so the content itself is passed on.
 */
export type Flavor = 'exec' | 'data'

/** A file or cid value as templates see it: `.cid`, `.name`, `.path`, and itself as text. */
export function contentValue (ref: DataRef, hostPath: string | null, flavor: Flavor): Record<string, unknown> {
  return {
    cid: ref.cid,
    name: ref.name,
    path: hostPath,
    toString: () => flavor === 'exec' && hostPath !== null ? hostPath : ref.cid
  }
}

export function isData (value: InputValue): value is DataRef {
  return typeof value === 'object' && value !== null
}

/** What templates read of a finished step: `steps.<id>.outputs.cid/path/<name>` and `.status`. */
export interface StepView {
  readonly status: string
  readonly outputs: Readonly<Record<string, string | null>>
}

/** Values that are the same for every step of a run. */
export interface RunScope {
  readonly trigger: Readonly<Record<string, unknown>>
  readonly run: { readonly id: string, readonly pipeline: string, readonly node: string }
  readonly env: Readonly<Record<string, string>>
  readonly inputs: Readonly<Record<string, InputValue>>
  readonly steps: Record<string, StepView>
}

/** Inputs as templates see them: scalars as they are, content with its mount path (if mounted). */
export function inputsView (inputs: Readonly<Record<string, InputValue>>, mountPaths: Readonly<Record<string, string>>, flavor: Flavor): Record<string, unknown> {
  return Object.fromEntries(Object.entries(inputs).map(([name, value]) =>
    [name, isData(value) ? contentValue(value, mountPaths[name] ?? null, flavor) : value]))
}

/** The CID of the file a drop folder took for this run, if the run has one. */
export function triggerFileCid (trigger: Readonly<Record<string, unknown>>): string | undefined {
  const file = trigger.file
  if (typeof file !== 'object' || file === null) return undefined
  const cid = (file as { cid?: unknown }).cid
  if (typeof cid !== 'string') return undefined
  // a CID as written, nothing else (a peer's task carries the trigger too): never a path
  return cidAlone(cid) === cid ? cid : undefined
}

/**
 * The trigger as templates see it. A dropped file is the content the drop folder stored, never
 * the live file (which may have changed since): `trigger.file.path` is where that content is
 * written out for the step (`exec`; `/ipfs/<cid>` under sandbox and vm), or `/ipfs/<cid>` where
 * content is passed on (`data`); the path it was dropped at stays in `trigger.file.source`.
 */
export function triggerView (trigger: Readonly<Record<string, unknown>>, cidPaths: Readonly<Record<string, string>>, flavor: Flavor): Readonly<Record<string, unknown>> {
  const cid = triggerFileCid(trigger)
  if (cid === undefined) return trigger
  const file = trigger.file as Readonly<Record<string, unknown>>
  const placed = flavor === 'exec' ? cidPaths[cid] : undefined
  const shown = placed ?? `/ipfs/${cid}`
  return { ...trigger, file: { ...file, source: file.path, path: shown, toString: () => flavor === 'exec' ? shown : cid } }
}

/** The context of a pipeline step's templates. */
export function stepContext (scope: RunScope, parts: {
  flavor: Flavor
  inputs: Readonly<Record<string, InputValue>>
  mountPaths: Readonly<Record<string, string>>
  attempt: number
  outputs?: Readonly<Record<string, string>>
  item?: Readonly<Record<string, unknown>>
  /** Where the attempt's executor shows each CID it mounts (the trigger's file among them). */
  cidPaths?: Readonly<Record<string, string>>
}): Record<string, unknown> {
  return {
    trigger: triggerView(scope.trigger, parts.cidPaths ?? {}, parts.flavor),
    inputs: inputsView(parts.inputs, parts.mountPaths, parts.flavor),
    steps: scope.steps,
    env: scope.env,
    run: { ...scope.run, attempt: parts.attempt },
    ...(parts.outputs !== undefined ? { outputs: parts.outputs } : {}),
    ...(parts.item !== undefined ? { item: parts.item } : {})
  }
}

/** A rendered `if:` decides: empty, false, 0, null, no and off are false. */
export function truthy (rendered: string): boolean {
  return !['', 'false', '0', 'null', 'no', 'off', 'undefined'].includes(rendered.trim().toLowerCase())
}
