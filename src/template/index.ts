export { createTemplateEngine, type TemplateEngineInit } from './engine.js'
export { shellQuote } from './shell-quote.js'
