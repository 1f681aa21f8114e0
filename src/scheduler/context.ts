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

/** The context of a pipeline step's templates. */
export function stepContext (scope: RunScope, parts: {
  flavor: Flavor
  inputs: Readonly<Record<string, InputValue>>
  mountPaths: Readonly<Record<string, string>>
  attempt: number
  outputs?: Readonly<Record<string, string>>
  item?: Readonly<Record<string, unknown>>
}): Record<string, unknown> {
  return {
    trigger: scope.trigger,
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
