export { createEngine, type Engine, type EngineInit } from './engine.js'
export type { EngineComponents } from './run-context.js'
