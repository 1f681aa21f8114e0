import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { bac } from '../helpers/cli.js'

const work = mkdtempSync(path.join(tmpdir(), 'bac-log-'))
after(() => rmSync(work, { recursive: true, force: true }))
const file = path.join(work, 'hello.yml')
writeFileSync(file, 'name: hello\nsteps:\n  hello:\n    run: echo hi > {{ outputs.path }}/hi.txt\n')
const env = (extra: Record<string, string> = {}): Record<string, string> => ({ BAC_HOME: path.join(work, 'home'), DEBUG: '', BAC_LOG_LEVEL: '', BAC_LOG_FORMAT: '', ...extra })

describe('the debug log', () => {
  it('is off unless asked for', () => {
    const r = bac(['run', file, '--no-cache'], { cwd: work, env: env() })
    assert.equal(r.code, 0, r.stderr)
    assert.doesNotMatch(r.stderr, /bac:(scheduler|executors|storage)/)
  })

  it('--log-level debug with --json: one JSON object a line, from the scheduler, the executor and the store', () => {
    const r = bac(['--log-level', 'debug', 'run', file, '--json', '--no-cache'], { cwd: work, env: env() })
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { scope: string, level: string, msg: string, time: string, runId?: string, status?: string })
    const scopes = new Set(lines.map((l) => l.scope))
    for (const scope of ['bac:scheduler', 'bac:executors', 'bac:storage']) assert.ok(scopes.has(scope), `${scope} in ${[...scopes].join(', ')}`)
    const end = lines.find((l) => l.msg === 'run ended')
    assert.equal(end?.status, 'succeeded')
    assert.equal(end?.level, 'debug')
    assert.ok(!Number.isNaN(Date.parse(end?.time ?? '')))
  })

  it('DEBUG=bac:scheduler: text lines of that part alone', () => {
    const r = bac(['run', file, '--no-cache'], { cwd: work, env: env({ DEBUG: 'bac:scheduler' }) })
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stderr.split('\n').filter((l) => / bac:\w+ /.test(l))
    assert.ok(lines.some((l) => / bac:scheduler run started runId=\w+ pipeline=hello/.test(l)), r.stderr)
    assert.equal(lines.filter((l) => !/ bac:scheduler /.test(l)).length, 0, r.stderr)
  })
})
