/**
 * bac's library API. The CLI is a thin shell over these functions; programs can call them too.
 * Heavy parts (libp2p, Helia, SQLite) must be imported lazily from here so that light commands
 * such as `bac validate` start fast.
 */
import './polyfills.js'

export * from './interfaces/errors.js'
export type * from './interfaces/pipeline.js'
export type * from './interfaces/problem.js'
export type * from './interfaces/template.js'
export { createTemplateEngine, shellQuote, type TemplateEngineInit } from './template/index.js'
export { parseDuration, parseSize, type ValidationResult, type PipelineValidator } from './pipeline/index.js'
export {
  createValidator, validatePipeline, validateJobTemplate, validatePaths, getSchema,
  DEFAULT_VALIDATE_PATHS, type PathsValidation
} from './node/validation.js'

/** bac's version, from package.json. */
export { VERSION } from './version.js'
