import { createRequire } from 'node:module'

/** Loads modules synchronously, on first use: packages only some pipelines need stay unloaded. */
export const load = createRequire(import.meta.url)

/** Memoizes a loader so a module is required once. */
export function lazy<T> (loader: () => T): () => T {
  let value: T | undefined
  let loaded = false
  return () => {
    if (!loaded) {
      value = loader()
      loaded = true
    }
    return value as T
  }
}

/** ajv's 2020-12 class, loaded when a schema must be compiled at run time. */
export const ajvClass = lazy(() => (load('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js')).Ajv2020)
