/**
 * Handlebars' `strict` option only checks the last name of a value written directly in `{{ }}`;
 * names inside helper arguments and the middle of a path are looked up unchecked. bac wants every
 * unknown name to be an error, so this instance gets a compiler whose every lookup is strict.
 * The subclass belongs to one handlebars environment only (no global change).
 */
type Compiler = new () => { resolvePath (...args: unknown[]): unknown }

export function makeStrict (env: object): void {
  const holder = env as { JavaScriptCompiler: Compiler }
  const Base = holder.JavaScriptCompiler
  class StrictCompiler extends Base {
    override resolvePath (type: unknown, parts: unknown, start: unknown, falsy: unknown, strict: unknown): unknown {
      // a block param (`as |x|`) resolves with no part left to look up: nothing to check then
      const remaining = Array.isArray(parts) && typeof start === 'number' && parts.length > start
      return super.resolvePath(type, parts, start, falsy, remaining ? true : strict)
    }
  }
  // child programs (block bodies) are compiled by `new this.compiler()`
  ;(StrictCompiler.prototype as unknown as { compiler: unknown }).compiler = StrictCompiler
  holder.JavaScriptCompiler = StrictCompiler
}
