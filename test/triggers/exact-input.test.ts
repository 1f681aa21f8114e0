import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { Project, until } from './helpers.js'

/**
 * A run reads the bytes its drop folder took, whose CID it records: `trigger.file.path` is that
 * content written out for the step, never the live file, and the memo key holds its CID.
 */
describe('a dropped file is the content that was taken', () => {
  const projects: Project[] = []
  const project = (): Project => { const p = new Project(); projects.push(p); return p }
  after(async () => { for (const p of projects) await p.close() })

  /** Copies `trigger.file.path` (and says where the file was dropped) once `gate` exists. */
  const pipeline = (gate: string): string => `name: copy
on:
  watch: { path: ../drop, glob: "*.txt", after: keep, stable: 150ms }
steps:
  copy:
    outputs: { out: out.txt, source: source.txt }
    run: |
      while [ ! -e ${gate} ]; do sleep 0.02; done
      cat {{ trigger.file.path }} > {{ outputs.out }}
      printf '%s' {{ trigger.file.source }} > {{ outputs.source }}
`
  const output = (p: Project, runId: string, name: string): string => readFileSync(path.join(p.dir, 'outputs', runId, 'copy', 'merged', name), 'utf8')

  it('a new version of a file at the same path runs again, and its output is the new content', async () => {
    const p = project()
    const gate = path.join(p.dir, 'open')
    writeFileSync(gate, '')
    await p.start([p.pipeline('copy', pipeline(gate))])
    const file = path.join(p.dir, 'drop', 'a.txt')
    writeFileSync(file, 'version one\n')
    await until(() => p.runs()[0]?.status === 'succeeded', 'the first run')
    writeFileSync(file, 'version two, longer\n')
    await until(() => p.runs().length === 2 && p.runs()[1]?.status === 'succeeded', 'the run of the new version')
    const [first, second] = p.runs()
    assert.equal(output(p, first?.id ?? '', 'out.txt'), 'version one\n')
    assert.equal(output(p, second?.id ?? '', 'out.txt'), 'version two, longer\n')
    // the step ran: the new content is not answered from the old one's cache
    assert.equal(p.node?.node.runs.steps(second?.id ?? '')[0]?.status, 'succeeded')
    assert.equal(output(p, second?.id ?? '', 'source.txt'), file)
  })

  it('a file changed after it was taken does not change the run', async () => {
    const p = project()
    const gate = path.join(p.dir, 'open')
    await p.start([p.pipeline('copy', pipeline(gate))])
    const file = path.join(p.dir, 'drop', 'b.txt')
    writeFileSync(file, 'as it was taken\n')
    await until(() => p.runs()[0]?.status === 'running', 'the run to start')
    // the step waits at its gate; the file changes under it
    writeFileSync(file, 'written over after it was taken\n')
    writeFileSync(gate, '')
    await until(() => p.runs()[0]?.status === 'succeeded', 'the first run')
    const first = p.runs()[0]
    assert.equal(output(p, first?.id ?? '', 'out.txt'), 'as it was taken\n')
    // what the record says it read is what it read
    const cid = (first?.trigger.file as { cid: string }).cid
    let stored = ''
    for await (const chunk of p.node?.node.store.cat(cid) ?? []) stored += Buffer.from(chunk).toString()
    assert.equal(stored, 'as it was taken\n')
    // the new content is a run of its own
    await until(() => p.runs().length === 2 && p.runs()[1]?.status === 'succeeded', 'the run of the new content')
    assert.equal(output(p, p.runs()[1]?.id ?? '', 'out.txt'), 'written over after it was taken\n')
    assert.equal(existsSync(file), true)
  })

  it('under the sandbox, the dropped file is its content at /ipfs/<cid>, read-only', { skip: existsSync('/usr/bin/bwrap') ? false : 'needs bubblewrap (test setup installs it)' }, async () => {
    const p = project()
    await p.start([p.pipeline('boxed', `name: boxed
on:
  watch: { path: ../drop, glob: "*.txt", after: keep, stable: 100ms }
steps:
  copy:
    executor: sandbox
    outputs: { out: out.txt, where: where.txt }
    run: |
      cat {{ trigger.file.path }} > {{ outputs.out }}
      printf '%s' {{ trigger.file.path }} > {{ outputs.where }}
      if echo x >> {{ trigger.file.path }}; then echo writable >> {{ outputs.where }}; fi
`)])
    writeFileSync(path.join(p.dir, 'drop', 'c.txt'), 'boxed content\n')
    await until(() => p.runs()[0]?.status === 'succeeded', 'the run')
    const run = p.runs()[0]
    const cid = (run?.trigger.file as { cid: string }).cid
    const dir = path.join(p.dir, 'outputs', run?.id ?? '', 'copy', 'merged')
    assert.equal(readFileSync(path.join(dir, 'out.txt'), 'utf8'), 'boxed content\n')
    assert.equal(readFileSync(path.join(dir, 'where.txt'), 'utf8'), `/ipfs/${cid}`)
  })
})

describe('a file is taken only when complete', () => {
  const projects: Project[] = []
  after(async () => { for (const p of projects) await p.close() })

  it('writers that pause 2 s mid file, on a busy machine, give one run each, of the whole file', async () => {
    const p = new Project()
    projects.push(p)
    await p.start([p.pipeline('copy', `name: copy
on:
  watch: { path: ../drop, glob: "*.txt", after: keep, stable: 300ms }
steps:
  copy:
    outputs: { out: out.txt }
    run: cat {{ trigger.file.path }} > {{ outputs.out }}
`)])
    // both cores busy for the length of the test
    const load = [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }))
    try {
      const writers = [1, 2, 3].map((i) => spawn('sh', ['-c', `{ printf 'first half\\n'; sleep 2; printf 'second half\\n'; } > ${path.join(p.dir, 'drop', `w${i}.txt`)}`], { stdio: 'ignore' }))
      await Promise.all(writers.map(async (w) => await new Promise((resolve) => w.once('exit', resolve))))
      await until(() => p.runs().filter((r) => r.status === 'succeeded').length >= 3, 'a run of each file', 60_000)
      const runs = p.runs()
      assert.equal(runs.length, 3, runs.map((r) => `${(r.trigger.file as { name: string }).name} ${(r.trigger.file as { size: number }).size}`).join(', '))
      for (const run of runs) {
        assert.equal(readFileSync(path.join(p.dir, 'outputs', run.id, 'copy', 'merged', 'out.txt'), 'utf8'), 'first half\nsecond half\n')
      }
    } finally {
      for (const l of load) l.kill('SIGKILL')
    }
  })
})
