export { createEngine, type EngineInit } from './engine.js'
export type { EngineComponents } from './run-context.js'
