import { createProcessExecutor } from '../../src/executors/index.js'
import { executorCompliance } from './compliance.js'

executorCompliance('process', (init) => createProcessExecutor(init))
