/**
 * The template engine as other parts see it: the pipeline validator analyses templates through it
 * and the engine renders them. The concrete handlebars implementation lives in `src/template/`.
 */

/** How rendered values are inserted: `shell` quotes every `{{ }}` value for a POSIX shell. */
export type RenderMode = 'shell' | 'plain'

/** A 1-based position inside a template's text. */
export interface TemplateLocation {
  readonly line: number
  readonly column: number
  /** Zero-based offsets of the whole `{{ … }}` expression in the template text. */
  readonly start: number
  readonly end: number
}

/** A name a template reads, such as `inputs.archive.path` → `['inputs', 'archive', 'path']`. */
export interface TemplateReference {
  readonly parts: readonly string[]
  readonly loc: TemplateLocation
}

export interface TemplateAnalysis {
  /** Names read from the run's context (not names local to `#each`/`#with` blocks). */
  readonly references: readonly TemplateReference[]
  /** Expressions written `{{{ }}}` or `{{& }}`: inserted without quoting. */
  readonly raw: readonly TemplateLocation[]
  /** Escaped `{{ }}` expressions written inside a quoted shell string ("…{{ x }}…"). */
  readonly quoted: readonly TemplateLocation[]
  /** Problems: syntax errors, unknown helpers, partials. */
  readonly problems: ReadonlyArray<{ readonly rule: string, readonly message: string, readonly loc: TemplateLocation }>
}

export interface TemplateEngine {
  /** Parses a template and lists what it reads; never throws. */
  analyze: (source: string) => TemplateAnalysis
  /**
   * Renders strictly: an unknown name throws a `TemplateError`. In `shell` mode every `{{ }}`
   * value is shell-quoted; `{{{ }}}` inserts raw text.
   */
  render: (source: string, context: Readonly<Record<string, unknown>>, mode: RenderMode) => string
  /** Whether a string contains template syntax at all. */
  isTemplate: (source: string) => boolean
  /** The helper names available in templates. */
  readonly helpers: readonly string[]
}
