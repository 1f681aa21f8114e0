export { createEngine, type EngineInit } from './engine.js'
export type { EngineComponents } from './run-context.js'
export { TaskHost } from './remote.js'
export { Semaphore } from './semaphore.js'
