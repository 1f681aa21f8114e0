import assert from 'node:assert/strict'
import { existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { Project, until } from './helpers.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** A pipeline that copies each dropped file into its outputs. */
function copyPipeline (after: 'keep' | 'move' | 'delete', stable = '200ms', glob = '*.txt'): string {
  return `name: copy
on:
  watch: { path: ../drop, glob: "${glob}", input: file, after: ${after}, stable: ${stable} }
inputs:
  file: { type: file, description: the dropped file }
steps:
  copy:
    outputs: { out: out.txt }
    run: cat {{ inputs.file.path }} > {{ outputs.out }}
`
}

describe('bac watch: drop folders', () => {
  const projects: Project[] = []
  const project = (): Project => { const p = new Project(); projects.push(p); return p }
  after(async () => { for (const p of projects) await p.close() })

  it('takes a file written slowly in pieces once, whole, and moves it to processed/', async () => {
    const p = project()
    const pipeline = p.pipeline('copy', copyPipeline('move', '400ms'))
    await p.start([pipeline])
    const file = path.join(p.dir, 'drop', 'slow.txt')
    const fd = openSync(file, 'w')
    for (let i = 0; i < 5; i++) {
      writeSync(fd, `piece ${i}\n`)
      await sleep(120)
    }
    closeSync(fd)
    await until(() => p.runs().length === 1 && p.runs()[0]?.status === 'succeeded', 'the run')
    await until(() => existsSync(path.join(p.dir, 'processed', 'slow.txt')), 'the move')
    const run = p.runs()[0]
    assert.ok(run?.resultCid !== undefined)
    const out = readFileSync(path.join(p.dir, 'outputs', run.id, 'copy', 'merged', 'out.txt'), 'utf8')
    assert.equal(out, [0, 1, 2, 3, 4].map((i) => `piece ${i}\n`).join(''))
    assert.equal((run.trigger.file as { name: string }).name, 'slow.txt')
    assert.equal(existsSync(file), false)
    await sleep(500)
    assert.equal(p.runs().length, 1, 'taken once')
  })

  it('takes a file renamed in at once, without waiting for the stable window', async () => {
    const p = project()
    // a stable window far longer than the test may take: only a rename-in can be taken in time
    const pipeline = p.pipeline('copy', copyPipeline('keep', '60s'))
    await p.start([pipeline])
    const staged = path.join(p.dir, 'staged.txt')
    writeFileSync(staged, 'renamed in\n')
    await sleep(20)
    renameSync(staged, path.join(p.dir, 'drop', 'in.txt'))
    await until(() => p.runs()[0]?.status === 'succeeded', 'the run of a renamed-in file', 10_000)
    assert.equal(p.runs().length, 1)
  })

  it('runs every file of a burst exactly once, past the bound on files looked at', async () => {
    const p = project()
    const pipeline = p.pipeline('copy', copyPipeline('delete'))
    // 16 files looked at, at most: the rest of the burst is found by rescans
    await p.start([pipeline], { watchPending: 16 })
    const staging = path.join(p.dir, 'staging')
    mkdirSync(staging)
    const count = 200
    for (let i = 0; i < count; i++) writeFileSync(path.join(staging, `f${i}.txt`), `file ${i}\n`)
    await sleep(20)
    for (let i = 0; i < count; i++) renameSync(path.join(staging, `f${i}.txt`), path.join(p.dir, 'drop', `f${i}.txt`))
    await until(() => p.runs().filter((r) => r.status === 'succeeded').length === count, `${count} runs`, 120_000)
    await until(() => readdirSync(path.join(p.dir, 'drop')).length === 0, 'every file deleted')
    const paths = p.runs().map((r) => (r.trigger.file as { path: string }).path)
    assert.equal(new Set(paths).size, count, 'one run per file')
    assert.equal(p.runs().length, count)
  })

  it('takes at start the files that arrived while it was down, and never a file twice', async () => {
    const p = project()
    const pipeline = p.pipeline('copy', copyPipeline('keep'))
    mkdirSync(path.join(p.dir, 'drop'))
    writeFileSync(path.join(p.dir, 'drop', 'a.txt'), 'a\n')
    writeFileSync(path.join(p.dir, 'drop', 'b.txt'), 'b\n')
    writeFileSync(path.join(p.dir, 'drop', 'ignored.csv'), 'not matching the glob\n')
    await p.start([pipeline])
    await until(() => p.runs().filter((r) => r.status === 'succeeded').length === 2, 'two runs')
    await p.stop()
    writeFileSync(path.join(p.dir, 'drop', 'c.txt'), 'c\n')
    await sleep(50)
    await p.start([pipeline])
    await until(() => p.runs().filter((r) => r.status === 'succeeded').length === 3, 'the file that arrived while down')
    await sleep(400)
    const names = p.runs().map((r) => (r.trigger.file as { name: string }).name).sort()
    assert.deepEqual(names, ['a.txt', 'b.txt', 'c.txt'])
  })

  it('runs a file again when its content changes, and not when the same content is dropped again', async () => {
    const p = project()
    const pipeline = p.pipeline('copy', copyPipeline('move'))
    await p.start([pipeline])
    const drop = path.join(p.dir, 'drop')
    writeFileSync(path.join(drop, 'a.txt'), 'one\n')
    await until(() => existsSync(path.join(p.dir, 'processed', 'a.txt')), 'the first run')
    // the same bytes again: skipped, and put where the first went, under a name of its own
    writeFileSync(path.join(drop, 'a.txt'), 'one\n')
    await until(() => readdirSync(path.join(p.dir, 'processed')).length === 2, 'the repeat moved')
    assert.equal(p.runs().length, 1)
    assert.ok(p.events.some((e) => e.type === 'file:skipped'))
    writeFileSync(path.join(drop, 'a.txt'), 'two\n')
    await until(() => p.runs().length === 2 && p.runs().every((r) => r.status === 'succeeded'), 'a run of the new content')
    const cids = new Set(p.runs().map((r) => (r.trigger.file as { cid: string }).cid))
    assert.equal(cids.size, 2)
  })

  it('moves a file whose run failed to failed/', async () => {
    const p = project()
    const pipeline = p.pipeline('fail', `name: fail
on:
  watch: { path: ../drop, after: move, stable: 100ms }
steps:
  no:
    run: exit 3
`)
    await p.start([pipeline])
    writeFileSync(path.join(p.dir, 'drop', 'bad.txt'), 'x\n')
    await until(() => existsSync(path.join(p.dir, 'failed', 'bad.txt')), 'the move to failed/')
    assert.equal(p.runs()[0]?.status, 'failed')
  })

  it('stopping the node interrupts a running run, keeps its file, and the next start finishes that same run', async () => {
    const p = project()
    const pipeline = p.pipeline('slow', `name: slow
on:
  watch: { path: ../drop, after: move, stable: 100ms }
steps:
  wait:
    run: sleep 1; echo done
`)
    await p.start([pipeline])
    writeFileSync(path.join(p.dir, 'drop', 'a.txt'), 'a\n')
    await until(() => p.runs()[0]?.status === 'running', 'the run to start')
    await p.stop()
    await p.start([])
    assert.equal(p.runs()[0]?.status, 'interrupted')
    await p.stop()
    assert.ok(existsSync(path.join(p.dir, 'drop', 'a.txt')), 'the file stays until its run ends')
    await p.start([pipeline])
    await until(() => existsSync(path.join(p.dir, 'processed', 'a.txt')), 'the run taken up again, and the file moved')
    assert.equal(p.runs().length, 1)
    assert.equal(p.runs()[0]?.status, 'succeeded')
  })

  it('with recursive, takes files in subfolders (glob on the name) and keeps their place under processed/', async () => {
    const p = project()
    const pipeline = p.pipeline('deep', `name: deep
on:
  watch: { path: ../drop, glob: "*.csv", recursive: true, after: move, stable: 100ms }
steps:
  name:
    run: echo {{ trigger.file.name }}
`)
    mkdirSync(path.join(p.dir, 'drop', 'a', 'b'), { recursive: true })
    writeFileSync(path.join(p.dir, 'drop', 'a', 'b', 'deep.csv'), 'x\n')
    writeFileSync(path.join(p.dir, 'drop', 'a', 'b', 'skip.txt'), 'x\n')
    await p.start([pipeline])
    writeFileSync(path.join(p.dir, 'drop', 'a', 'later.csv'), 'y\n')
    await until(() => existsSync(path.join(p.dir, 'processed', 'a', 'b', 'deep.csv')) && existsSync(path.join(p.dir, 'processed', 'a', 'later.csv')), 'both files moved')
    assert.equal(p.runs().length, 2)
    assert.ok(existsSync(path.join(p.dir, 'drop', 'a', 'b', 'skip.txt')))
  })
})
