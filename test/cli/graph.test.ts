import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { bac } from '../helpers/cli.js'

const work = mkdtempSync(path.join(tmpdir(), 'bac-graph-'))
after(() => rmSync(work, { recursive: true, force: true }))
const env = { BAC_HOME: path.join(work, 'home') }
const file = path.join(work, 'fan.yml')
writeFileSync(file, `name: fan
steps:
  prep:
    run: echo hi > {{ outputs.path }}/x.txt
  each:
    needs: [prep]
    foreach: [1, 2, 3]
    run: echo {{ item }} > {{ outputs.path }}/y.txt
  broken:
    needs: [prep]
    run: exit 3
  last:
    needs: [each, broken]
    run: "true"
`)

describe('bac graph', () => {
  it('prints a pipeline\'s DAG as Mermaid, every needs an edge', () => {
    const r = bac(['graph', file], { env })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, [
      '%% fan',
      'flowchart LR',
      '  s0["prep"]',
      '  s1["each<br/>foreach"]',
      '  s2["broken"]',
      '  s3["last"]',
      '  s0 --> s1',
      '  s0 --> s2',
      '  s1 --> s3',
      '  s2 --> s3',
      ''
    ].join('\n'))
  })

  it('prints a run\'s DAG as DOT, each step with its status, color and n/N of its instances', () => {
    const run = bac(['run', file, '--json', '--outputs', path.join(work, 'out')], { env, cwd: work })
    assert.equal(run.code, 1, 'the run fails at broken')
    const runId = (JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { runId: string }).runId
    const r = bac(['graph', runId.slice(0, 8), '--format', 'dot'], { env })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^digraph "fan" \{\n {2}rankdir=LR;/)
    assert.match(r.stdout, /s0 \[label="prep\\nsucceeded", fillcolor="#dcfce7"/)
    assert.match(r.stdout, /s1 \[label="each\\nforeach\\nsucceeded 3\/3", fillcolor="#dcfce7"/)
    assert.match(r.stdout, /s2 \[label="broken\\nfailed", fillcolor="#fee2e2"/)
    assert.match(r.stdout, /s3 \[label="last\\n(skipped|waiting)"/)
    assert.match(r.stdout, / {2}s1 -> s3;\n {2}s2 -> s3;\n\}\n$/)
    const mermaid = bac(['graph', runId], { env })
    assert.match(mermaid.stdout, /classDef failed fill:#fee2e2,stroke:#b91c1c\n {2}class s2 failed/)
  })

  it('says what is wrong with a pipeline it cannot draw, or a run it does not have', () => {
    const bad = path.join(work, 'bad.yml')
    writeFileSync(bad, 'name: bad\nsteps:\n  a:\n    needs: [nope]\n    run: "true"\n')
    const r = bac(['graph', bad], { env })
    assert.equal(r.code, 2)
    assert.match(r.stderr, /bad\.yml: the pipeline has 1 error; no graph/)
    const missing = bac(['graph', 'nosuchrun'], { env })
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /run nosuchrun: no run has this id/)
    assert.match(bac(['graph', path.join(work, 'absent.yml')], { env }).stderr, /absent\.yml: no such pipeline file/)
    // a FIFO named like a pipeline is never opened (it would block)
    const fifo = path.join(work, 'fifo.yml')
    execFileSync('mkfifo', [fifo])
    const blocked = bac(['graph', fifo], { env })
    assert.equal(blocked.code, 2)
    assert.match(blocked.stderr, /fifo\.yml: not a regular file; bac reads only regular files as pipelines/)
  })
})
