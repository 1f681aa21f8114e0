import type { RunEvent } from '../interfaces/engine.js'
import type { RunEnd } from '../interfaces/node.js'

/** How a run ended, as its `run:end` event tells it. */
export function endOfEvent (event: Extract<RunEvent, { type: 'run:end' }>): RunEnd {
  return {
    runId: event.runId,
    status: event.status,
    ...(event.resultCid !== undefined ? { resultCid: event.resultCid } : {}),
    ...(event.reason !== undefined ? { reason: event.reason } : {}),
    ...(event.provenanceCid !== undefined ? { provenanceCid: event.provenanceCid } : {})
  }
}
