import assert from 'node:assert/strict'
import { loadNodeKey } from '../../src/common/node-key.js'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ROOT } from '../helpers/paths.js'
import { Harness } from './harness.js'

describe('engine: running pipelines end to end', () => {
  let h: Harness
  before(async () => { h = await new Harness().start() })
  after(async () => { await h.stop() })

  it('runs the hello pipeline: outputs flow by CID, the result holds <step>/0/ and <step>/merged/', async () => {
    const p = h.pipeline('hello', readFileSync(path.join(ROOT, 'pipelines', 'hello.yml'), 'utf8'))
    const outcome = await h.run(p, { inputs: { who: "Ada 'the first' $(programmer)" } })
    assert.equal(outcome.status, 'succeeded', outcome.reason)
    assert.match(outcome.resultCid ?? '', /^Qm/)
    const out = outcome.outputsDir ?? ''
    assert.equal(readFileSync(path.join(out, 'greet', '0', 'greeting.txt'), 'utf8'), "hello, Ada 'the first' $(programmer)\n")
    assert.equal(readFileSync(path.join(out, 'shout', 'merged', 'loud.txt'), 'utf8'), "HELLO, ADA 'THE FIRST' $(PROGRAMMER)\n")
    assert.equal(h.runs.getRun(outcome.runId)?.resultCid, outcome.resultCid)
    assert.deepEqual(h.runs.steps(outcome.runId).map((s) => [s.stepId, s.status]).sort(), [['greet', 'succeeded'], ['shout', 'succeeded']])
  })

  it('runs the demo: extract then aggregate, the summary equal to the scripts run by hand', async () => {
    const p = h.pipeline('sales-report', readFileSync(path.join(ROOT, 'pipelines', 'sales-report.yml'), 'utf8'))
    const outcome = await h.run(p)
    assert.equal(outcome.status, 'succeeded', outcome.reason)
    const byHand = mkdtempSync(path.join(tmpdir(), 'bac-byhand-'))
    try {
      execFileSync('python3', [path.join(ROOT, 'scripts', 'extract.py'), path.join(ROOT, 'pipelines', 'data', 'sales.zip'), path.join(byHand, 'files'), '--only', '*.csv'])
      execFileSync('python3', [path.join(ROOT, 'scripts', 'aggregate.py'), path.join(byHand, 'files'), path.join(byHand, 'out'), '--group-by', 'category'])
      for (const file of ['summary.json', 'summary.csv']) {
        assert.deepEqual(readFileSync(path.join(outcome.outputsDir ?? '', 'aggregate', 'merged', file)), readFileSync(path.join(byHand, 'out', file)), file)
      }
    } finally {
      rmSync(byHand, { recursive: true, force: true })
    }
  })

  it('reuses an identical finished step, unless told not to', async () => {
    const p = h.pipeline('memo', 'name: memo\nsteps:\n  a:\n    run: date +%s%N > {{ outputs.path }}/t\n')
    const first = await h.run(p)
    const second = await h.run(p)
    assert.equal(second.steps.a?.status, 'cached')
    assert.equal(second.resultCid, first.resultCid)
    const third = await h.run(p, { noCache: true })
    assert.equal(third.steps.a?.status, 'succeeded')
    assert.notEqual(third.resultCid, first.resultCid)
  })

  it('starts every attempt in an empty working folder and empty outputs, however earlier steps left theirs', async () => {
    // quiet steps hand their (empty) folders on; the others leave files, or lock their folder
    const steps: string[] = []
    for (let i = 0; i < 24; i++) {
      const check = '[ -z "$(ls -A .)" ] && [ -z "$(ls -A {{ outputs.path }})" ] && [ "$(stat -c %a .)" = "$(stat -c %a {{ outputs.path }})" ] || ' +
        '{ echo "not fresh: $(ls -A . {{ outputs.path }}) $(stat -c %a .)" >&2; exit 1; }'
      const leave = i % 3 === 0 ? ' && touch leftover' : (i % 3 === 1 ? ' && chmod 700 .' : '')
      steps.push(`  s${i}:\n    run: '${check}${leave}'`)
    }
    const p = h.pipeline('fresh-folders', `name: fresh-folders\nsteps:\n${steps.join('\n')}\n`)
    const outcome = await h.run(p, { noCache: true, concurrency: 3 })
    assert.equal(outcome.status, 'succeeded', JSON.stringify(Object.entries(outcome.steps).filter(([, s]) => s.status !== 'succeeded')))
  })

  it('retries a failing step, then fails it and skips what needs it', async () => {
    const p = h.pipeline('fails', 'name: fails\nsteps:\n  a:\n    retries: { attempts: 2, backoff: 10ms }\n    run: echo trying; exit 3\n' +
      '  b:\n    needs: a\n    run: echo never\n  c:\n    run: echo independent > {{ outputs.path }}/c\n')
    const outcome = await h.run(p)
    assert.equal(outcome.status, 'failed')
    assert.match(outcome.reason ?? '', /step 'a' failed: exited with code 3 \(after 2 attempts\)/)
    assert.equal(outcome.steps.b?.status, 'skipped')
    assert.equal(outcome.steps.c?.status, 'succeeded')
    assert.equal(h.runs.executions(outcome.runId, 'a').length, 2)
  })

  it('skips a step whose if is false, and fans a step out with foreach', async () => {
    const p = h.pipeline('flow', [
      'name: flow',
      'inputs:',
      '  mode: { type: string, default: quick }',
      'steps:',
      '  full:',
      '    if: eq inputs.mode "full"',
      '    run: echo full',
      '  each:',
      '    foreach: [north, south, "{{ inputs.mode }}"]',
      '    run: echo {{ item.index }}-{{ item.value }} > {{ outputs.path }}/item.txt'
    ].join('\n'))
    const outcome = await h.run(p)
    assert.equal(outcome.status, 'succeeded', outcome.reason)
    assert.equal(outcome.steps.full?.status, 'skipped')
    const out = path.join(outcome.outputsDir ?? '', 'each', 'merged')
    assert.deepEqual(['0', '1', '2'].map((i) => readFileSync(path.join(out, i, 'item.txt'), 'utf8')), ['0-north\n', '1-south\n', '2-quick\n'])
  })

  it('stops a step at its timeout and a run when cancelled', async () => {
    const slow = h.pipeline('slow', 'name: slow\nsteps:\n  a:\n    timeout: 300ms\n    run: sleep 600\n')
    const timedOut = await h.run(slow)
    assert.equal(timedOut.status, 'failed')
    assert.match(timedOut.reason ?? '', /timed out after 300 ms/)
    const hang = h.pipeline('hang', 'name: hang\nsteps:\n  a:\n    run: sleep 600\n  b:\n    needs: a\n    run: echo never\n')
    const controller = new AbortController()
    setTimeout(() => { controller.abort() }, 300)
    const started = Date.now()
    const cancelled = await h.run(hang, { signal: controller.signal })
    assert.equal(cancelled.status, 'cancelled')
    assert.ok(Date.now() - started < 5000)
    assert.equal(h.runs.getRun(cancelled.runId)?.status, 'cancelled')
  })

  it('resumes a failed run without running again the steps that finished', async () => {
    const flag = path.join(h.dir, 'ready-flag')
    const p = h.pipeline('resume', `name: resume\nsteps:\n  first:\n    run: date +%s%N > {{ outputs.path }}/first\n` +
      `  second:\n    needs: first\n    run: test -f ${flag} && cp {{ steps.first.outputs.path }}/first {{ outputs.path }}/\n`)
    const failed = await h.run(p)
    assert.equal(failed.status, 'failed')
    writeFileSync(flag, '')
    const resumed = await h.run(p, { resume: failed.runId })
    assert.equal(resumed.runId, failed.runId)
    assert.equal(resumed.status, 'succeeded', resumed.reason)
    assert.equal(h.runs.executions(failed.runId, 'first').length, 1, 'first ran once')
    assert.equal(h.runs.executions(failed.runId, 'second').length, 2)
    const out = resumed.outputsDir ?? ''
    assert.deepEqual(readFileSync(path.join(out, 'second', 'merged', 'first')), readFileSync(path.join(out, 'first', 'merged', 'first')),
      'second read first\'s outputs through steps.first.outputs.path')
    await assert.rejects(h.run(p, { resume: failed.runId }), /already succeeded/)
  })

  it('gives templates every trigger and run name the language documents', async () => {
    const p = h.pipeline('names',
      'name: names\nsteps:\n  a:\n    run: echo {{ trigger.kind }} {{ trigger.time }} {{ run.id }} {{ run.pipeline }} {{ run.node }} {{ run.attempt }} > {{ outputs.path }}/names\n')
    const outcome = await h.run(p)
    assert.equal(outcome.status, 'succeeded', outcome.reason)
    const [kind, time, id, pipeline, node, attempt] = readFileSync(path.join(outcome.outputsDir ?? '', 'a', 'merged', 'names'), 'utf8').trim().split(' ')
    // run.node: the peer id of the node's identity key
    assert.deepEqual([kind, id, pipeline, node, attempt], ['manual', outcome.runId, 'names', loadNodeKey(h.dataDir).keyId, '1'])
    assert.ok(Math.abs(Date.parse(time ?? '') - Date.now()) < 60_000)
  })

  it('gives clear errors for a missing CID or file and an unknown input', async () => {
    const p = h.pipeline('needs-data', 'name: needs-data\ninputs:\n  data: { type: cid, required: true }\nsteps:\n  a:\n    run: cat {{ inputs.data.path }}\n')
    await assert.rejects(h.run(p, { inputs: { data: 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG' } }), (err: Error) => err.name === 'InputError' && /not found/.test(err.message))
    await assert.rejects(h.run(p, { inputs: { data: './missing.csv' } }), (err: Error) => err.name === 'InputError' && /does not exist/.test(err.message))
    await assert.rejects(h.run(p, { inputs: { dta: 'x' } }), (err: Error) => err.name === 'InputError' && /no such input; inputs: data/.test(err.message))
    await assert.rejects(h.run(p), (err: Error) => err.name === 'InputError' && /is required/.test(err.message))
  })

  it('runs a step in the sandbox with its inputs read-only at /inputs', async () => {
    const csv = path.join(h.project, 'pipelines', 'data', 'orders.csv')
    assert.ok(existsSync(csv))
    const p = h.pipeline('boxed', 'name: boxed\ninputs:\n  orders: { type: file, default: data/orders.csv }\nsteps:\n  count:\n    executor: sandbox\n' +
      '    run: echo {{ inputs.orders.path }} > {{ outputs.path }}/where; wc -l < {{ inputs.orders.path }} >> {{ outputs.path }}/where; ' +
      'touch {{ inputs.orders.path }} || echo read-only >> {{ outputs.path }}/where\n')
    const outcome = await h.run(p)
    assert.equal(outcome.status, 'succeeded', outcome.reason)
    assert.equal(readFileSync(path.join(outcome.outputsDir ?? '', 'count', 'merged', 'where'), 'utf8'), '/inputs/orders\n4\nread-only\n')
  })
})
