import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { bac, startBac } from '../helpers/cli.js'
import { ROOT } from '../helpers/paths.js'
import { processes, processesWith } from '../helpers/processes.js'
import { until } from '../helpers/until.js'

const work = mkdtempSync(path.join(tmpdir(), 'bac-cli-run-'))
after(() => rmSync(work, { recursive: true, force: true }))
const home = path.join(work, 'home')
const env = { BAC_HOME: home }
const project = path.join(work, 'project')
mkdirSync(path.join(project, 'pipelines'), { recursive: true })
cpSync(path.join(ROOT, 'jobstore'), path.join(project, 'jobstore'), { recursive: true })

const startUntil = async (args: string[], text: RegExp): ReturnType<typeof startBac> => await startBac(args, text, { cwd: project, env })
const exited = async (child: ReturnType<typeof spawn>): Promise<number | null> => await new Promise((resolve) => {
  if (child.exitCode !== null) resolve(child.exitCode)
  else child.on('exit', (code) => resolve(code))
})

describe('bac run and the job commands', () => {
  it('runs the demo on the shipped zip and prints the result CID', () => {
    const outputs = path.join(work, 'outputs')
    const r = bac(['run', 'pipelines/sales-report.yml', '--outputs', outputs], { env })
    assert.equal(r.code, 0, r.stderr)
    const cid = r.stdout.trim()
    assert.match(cid, /^Qm[1-9A-Za-z]{44}$/)
    assert.match(r.stderr, /extract \| extracted 2 file\(s\)/)
    const [runDir] = readFileSync(path.join(home, 'runs.db')).length > 0 ? execFileSync('ls', [outputs], { encoding: 'utf8' }).trim().split('\n') : []
    const summary = JSON.parse(readFileSync(path.join(outputs, runDir ?? '', 'aggregate', 'merged', 'summary.json'), 'utf8')) as { total_rows: number }
    assert.equal(summary.total_rows, 7)
    const list = JSON.parse(bac(['job', 'list', '--json'], { env }).stdout) as Array<{ id: string, resultCid: string, status: string }>
    assert.equal(list[0]?.resultCid, cid)
    assert.equal(list[0]?.status, 'succeeded')
  })

  it('finds the runs that produced a CID: as their result, or as a step\'s outputs (job list --cid)', () => {
    const first = bac(['run', 'pipelines/sales-report.yml', '--outputs', path.join(work, 'by-cid')], { env })
    assert.equal(first.code, 0, first.stderr)
    const cid = first.stdout.trim()
    const producers = (c: string): string[] => {
      const r = bac(['job', 'list', '--cid', c, '--json'], { env })
      assert.equal(r.code, 0, r.stderr)
      return (JSON.parse(r.stdout) as Array<{ id: string, resultCid?: string }>).map((run) => run.resultCid ?? '')
    }
    // every run of the demo here gave this result (the same work, the same CID)
    assert.ok(producers(cid).length >= 1)
    assert.ok(producers(cid).every((c) => c === cid))
    const [run] = JSON.parse(bac(['job', 'list', '-n', '1', '--json'], { env }).stdout) as Array<{ id: string }>
    const described = JSON.parse(bac(['job', 'describe', run?.id ?? '', '--json'], { env }).stdout) as { steps: Array<{ stepId: string, outputsCid: string }> }
    const extract = described.steps.find((s) => s.stepId === 'extract')?.outputsCid ?? ''
    assert.match(extract, /^Qm/)
    assert.ok(producers(extract).includes(cid), 'the run whose step wrote it')
    // a CID no run produced: none; not a CID: one line, exit 2
    assert.deepEqual(producers('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'), [])
    const bad = bac(['job', 'list', '--cid', '../etc'], { env })
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--cid takes a CID, got '..\/etc'/)
  })

  it('gives the same result CID for the same work on two fresh data dirs (two node ids)', () => {
    const cids = ['a', 'b'].map((name) => {
      const r = bac(['run', 'pipelines/sales-report.yml', '--outputs', path.join(work, `same-${name}`)], { env: { BAC_HOME: path.join(work, `home-${name}`) } })
      assert.equal(r.code, 0, r.stderr)
      return r.stdout.trim()
    })
    const ids = ['a', 'b'].map((name) => readFileSync(path.join(work, `home-${name}`, 'node-id'), 'utf8').trim())
    assert.notEqual(ids[0], ids[1])
    assert.match(cids[0] ?? '', /^Qm/)
    assert.equal(cids[0], cids[1])
  })

  it('a step cannot change the content a later step reads under the same CID (process executor, as root)', {
    skip: process.getuid?.() !== 0 && 'as another user, read-only holds as far as file modes do'
  }, () => {
    writeFileSync(path.join(project, 'kept.txt'), 'as stored\n')
    writeFileSync(path.join(project, 'pipelines', 'kept.yml'), [
      'name: kept',
      'inputs:',
      '  f: { type: file, default: ../kept.txt }',
      'steps:',
      '  spoil:',
      '    run: echo spoiled >> {{ inputs.f.path }} || true',
      '  read:',
      '    needs: spoil',
      '    outputs: { copy: copy.txt }',
      '    run: cat {{ inputs.f.path }} > {{ outputs.copy }}',
      ''
    ].join('\n'))
    const outputs = path.join(work, 'kept-out')
    const r = bac(['run', 'pipelines/kept.yml', '--executor', 'process', '--outputs', outputs], { env, cwd: project })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /spoil ! .*Read-only file system/)
    const [runDir] = execFileSync('ls', [outputs], { encoding: 'utf8' }).trim().split('\n')
    assert.equal(readFileSync(path.join(outputs, runDir ?? '', 'read', 'merged', 'copy.txt'), 'utf8'), 'as stored\n')
  })

  it('exits 2 for a pipeline with errors, 1 for a run that fails', () => {
    writeFileSync(path.join(project, 'pipelines', 'broken.yml'), 'name: broken\nsteps:\n  a:\n    needs: nope\n    run: echo\n')
    const broken = bac(['run', 'pipelines/broken.yml'], { env, cwd: project })
    assert.equal(broken.code, 2)
    assert.match(broken.stderr, /broken\.yml:4:12: error: step 'a' needs 'nope'/)
    writeFileSync(path.join(project, 'pipelines', 'fails.yml'), 'name: fails\nsteps:\n  a:\n    run: echo oops >&2; exit 4\n')
    const fails = bac(['run', 'pipelines/fails.yml'], { env, cwd: project })
    assert.equal(fails.code, 1)
    assert.match(fails.stderr, /a ! oops/)
    assert.match(fails.stderr, /run \w+ failed in .*: step 'a' failed: exited with code 4/)
    const bad = bac(['run', 'pipelines/fails.yml', '--input', 'novalue'], { env, cwd: project })
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--input takes name=value/)
  })

  it('cancels on Ctrl-C: the step is stopped, the run recorded as cancelled, exit 130', async () => {
    writeFileSync(path.join(project, 'pipelines', 'hang.yml'), 'name: hang\nsteps:\n  a:\n    run: echo waiting; sleep 600\n')
    const { child } = await startUntil(['run', 'pipelines/hang.yml'], /a \| waiting/)
    child.kill('SIGINT')
    assert.equal(await exited(child), 130)
    const [last] = JSON.parse(bac(['job', 'list', '--json'], { env }).stdout) as Array<{ status: string, pipeline: string }>
    assert.equal(last?.pipeline, 'hang')
    assert.equal(last?.status, 'cancelled')
  })

  it('after kill -9 mid-run, marks the run interrupted; --resume finishes it without running a finished step again', async () => {
    const counter = path.join(work, 'first-ran')
    const flag = path.join(work, 'go-on')
    writeFileSync(path.join(project, 'pipelines', 'crash.yml'), [
      'name: crash',
      'steps:',
      '  first:',
      `    run: echo ran >> ${counter}; echo first > {{ outputs.path }}/first`,
      '  second:',
      '    needs: first',
      `    run: echo started; while [ ! -f ${flag} ]; do sleep 0.05; done; cp {{ steps.first.outputs.path }}/first {{ outputs.path }}/copied`
    ].join('\n'))
    const { child } = await startUntil(['run', 'pipelines/crash.yml'], /second \| started/)
    child.kill('SIGKILL')
    await exited(child)
    const [crashed] = JSON.parse(bac(['job', 'list', '--json'], { env }).stdout) as Array<{ id: string, status: string, reason: string }>
    assert.equal(crashed?.status, 'interrupted')
    assert.match(crashed?.reason ?? '', /--resume/)
    writeFileSync(flag, '')
    const resumed = bac(['run', 'pipelines/crash.yml', '--resume', crashed?.id ?? ''], { env, cwd: project })
    assert.equal(resumed.code, 0, resumed.stderr)
    assert.equal(readFileSync(counter, 'utf8'), 'ran\n', 'the finished step ran once')
    const described = JSON.parse(bac(['job', 'describe', crashed?.id ?? '', '--json'], { env }).stdout) as { status: string, executions: Array<{ stepId: string }> }
    assert.equal(described.status, 'succeeded')
    assert.equal(described.executions.filter((e) => e.stepId === 'first').length, 1)
    assert.ok(existsSync(path.join(project, 'outputs', crashed?.id ?? '', 'second', 'merged', 'copied')))
  })

  it('after kill -9, nothing of the killed step runs on, even a child that called setsid; the resumed step runs alone', async () => {
    const log = path.join(work, 'leftovers.log')
    const flag = path.join(work, 'leftovers-go')
    const marker = `30.${process.pid}7`
    writeFileSync(path.join(project, 'pipelines', 'leftovers.yml'), [
      'name: leftovers',
      'steps:',
      '  b:',
      `    run: echo start >> ${log}; setsid sleep ${marker} & echo started; while [ ! -f ${flag} ]; do sleep 0.05; done; echo end >> ${log}`
    ].join('\n'))
    try {
      const { child } = await startUntil(['run', 'pipelines/leftovers.yml'], /b \| started/)
      await until(() => processes((c) => c === `sleep\0${marker}\0`).length === 1, 'the step\'s child in a new session')
      child.kill('SIGKILL')
      await exited(child)
      await until(() => processesWith(marker).length === 0, 'every process of the killed step to end', 10_000)
      const [crashed] = JSON.parse(bac(['job', 'list', '--json'], { env }).stdout) as Array<{ id: string, status: string, pipeline: string }>
      assert.equal(crashed?.pipeline, 'leftovers')
      assert.equal(crashed?.status, 'interrupted')
      writeFileSync(flag, '')
      const resumed = bac(['run', 'pipelines/leftovers.yml', '--resume', crashed?.id ?? ''], { env, cwd: project })
      assert.equal(resumed.code, 0, resumed.stderr)
      assert.equal(readFileSync(log, 'utf8'), 'start\nstart\nend\n', 'the killed attempt never went on beside the resumed one')
      assert.deepEqual(processesWith(marker), [], 'the resumed step left its child running')
    } finally {
      for (const pid of processesWith(marker)) { try { process.kill(pid, 'SIGKILL') } catch {} }
    }
  })

  it('runs the demo in the sandbox (as an unprivileged user when bac runs as root, the data dir in a private folder)', () => {
    const outputs = path.join(work, 'outputs-sandbox')
    const r = bac(['run', 'pipelines/sales-report.yml', '--executor', 'sandbox', '--outputs', outputs], { env })
    assert.equal(r.code, 0, r.stderr)
    const run = /run ([0-9a-f]+) succeeded/.exec(r.stderr)?.[1] ?? ''
    const summary = JSON.parse(readFileSync(path.join(outputs, run, 'aggregate', 'merged', 'summary.json'), 'utf8')) as { total_rows: number }
    assert.equal(summary.total_rows, 7)
  })

  it('writes a run\'s result out with job get, and says clearly when a run has none', () => {
    const list = JSON.parse(bac(['job', 'list', '--json', '-n', '50'], { env }).stdout) as Array<{ id: string, status: string, pipeline: string }>
    const done = list.find((r) => r.pipeline === 'sales-report')
    const target = path.join(work, 'fetched')
    const r = bac(['job', 'get', done?.id ?? '', target], { env })
    assert.equal(r.code, 0, r.stderr)
    assert.equal((JSON.parse(readFileSync(path.join(target, 'aggregate', 'merged', 'summary.json'), 'utf8')) as { total_rows: number }).total_rows, 7)
    const cancelled = list.find((r) => r.status === 'cancelled')
    const none = bac(['job', 'get', cancelled?.id ?? ''], { env })
    assert.equal(none.code, 2)
    assert.match(none.stderr, /has no result \(it is cancelled/)
  })

  it('runs the seed\'s job submit: sed -i on /ipfs/<cid> edits a private copy, never the stored content', () => {
    const data = path.join(work, 'seed.csv')
    writeFileSync(data, 'Region,Category\nnorth,Office Supplies\n')
    const cid = bac(['ipfs', 'add', data], { env }).stdout.trim()
    const r = bac(['job', 'submit', `--cids=${cid}`, `--commands=sed 's/Office Supplies/Booze/' -i /ipfs/${cid}`], { env, cwd: project })
    assert.equal(r.code, 0, r.stderr)
    const id = r.stdout.trim()
    const where = /outputs in (\S+)/.exec(r.stderr)
    assert.ok(where !== null, r.stderr)
    assert.equal(readFileSync(path.join(project, where[1] ?? '', 'ipfs', cid), 'utf8'), 'Region,Category\nnorth,Booze\n')
    assert.equal(bac(['ipfs', 'cat', cid], { env }).stdout, 'Region,Category\nnorth,Office Supplies\n', 'the stored content is unchanged')
    const [listed] = JSON.parse(bac(['job', 'list', '--json'], { env }).stdout) as Array<{ id: string, summary: string, data: string[] }>
    assert.equal(listed?.id, id)
    assert.match(listed?.summary ?? '', /^sed 's\/Office Supplies\/Booze\/' -i/)
    assert.deepEqual(listed?.data, [cid])
    const missing = bac(['job', 'submit', '--cids=x'], { env })
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /--commands/)
  })

  it('follows the logs of a run going on in another process until it ends', async () => {
    writeFileSync(path.join(project, 'pipelines', 'ticks.yml'), 'name: ticks\nsteps:\n  tick:\n    run: for i in 1 2 3 4 5; do echo tick $i; sleep 0.2; done\n')
    const { child } = await startUntil(['run', 'pipelines/ticks.yml'], /tick \| tick 1/)
    const [running] = JSON.parse(bac(['job', 'list', '--json'], { env }).stdout) as Array<{ id: string, status: string }>
    assert.equal(running?.status, 'running')
    const follow = bac(['job', 'logs', '-f', running?.id ?? ''], { env })
    assert.equal(follow.code, 0)
    assert.equal(follow.stdout, [1, 2, 3, 4, 5].map((i) => `tick | tick ${i}\n`).join(''))
    assert.equal(await exited(child), 0)
  })

  it('shows logs, and the ipfs commands agree with Kubo', () => {
    const run = (JSON.parse(bac(['job', 'list', '--json', '-n', '50'], { env }).stdout) as Array<{ id: string, pipeline: string }>).find((r) => r.pipeline === 'crash')
    const logs = bac(['job', 'logs', run?.id ?? '', '--step', 'second'], { env })
    assert.equal(logs.code, 0)
    assert.match(logs.stdout, /== second \(attempt 1 on node-\w+\) ==\nstarted\n/)
    const file = path.join(ROOT, 'pipelines', 'data', 'orders.csv')
    const cid = bac(['ipfs', 'add', file], { env }).stdout.trim()
    assert.equal(cid, (JSON.parse(execFileSync('ipfs_cid', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { CIDv0: string }).CIDv0)
    assert.equal(bac(['ipfs', 'cat', cid], { env }).stdout, readFileSync(file, 'utf8'))
    const missing = bac(['ipfs', 'cat', 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'], { env })
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^bac: content QmYw\S+ not found: it is not in the local store\n$/)
  })
})
