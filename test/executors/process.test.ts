import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { createProcessExecutor } from '../../src/executors/index.js'
import { FIXTURES } from '../helpers/paths.js'
import { executorCompliance } from './compliance.js'

executorCompliance('process', (init) => createProcessExecutor(init))

describe('process executor', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bac-process-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('sends SIGTERM first and SIGKILL only after the grace period', async () => {
    const executor = createProcessExecutor({ killGraceMs: 300 })
    const r = await executor.execute({
      action: { kind: 'command', command: 'sh', args: [path.join(FIXTURES, 'executors', 'ignore-term.sh')] },
      env: {},
      inputs: {},
      outputsDir: path.join(dir, 'outputs'),
      workDir: path.join(dir, 'work'),
      logsDir: path.join(dir, 'logs'),
      timeoutMs: 200
    })
    assert.equal(r.signal, 'SIGKILL')
    assert.ok(r.durationMs >= 450, `${r.durationMs} ms: the grace period was not waited for`)
  })
})
