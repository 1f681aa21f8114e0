import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { createValidator, InputError, openNode, type Pipeline, type Problem } from '../../src/index.js'
import { bac } from '../helpers/cli.js'
import { ROOT } from '../helpers/paths.js'

/**
 * Input constraints: `pattern` (the whole value must match) and `enum`. bac validate checks them;
 * a run refuses a value outside them before any step, whether given, sent in a message through a
 * template default, or passed to a job template through `with`.
 */
const work = mkdtempSync(path.join(tmpdir(), 'bac-constraints-'))
after(() => rmSync(work, { recursive: true, force: true }))

const show = (problems: readonly Problem[]): string[] => problems.map((p) => `${p.line}:${p.column} ${p.severity} ${p.rule}`)

function validate (text: string): ReturnType<ReturnType<typeof createValidator>['validatePipelineText']> {
  return createValidator().validatePipelineText(path.join(work, 'p.yml'), text)
}

describe('input constraints in bac validate', () => {
  it('takes a pattern that compiles and a default that matches', () => {
    const result = validate('name: x\ninputs:\n  who: { type: string, pattern: "[a-z]+", default: world }\n  n: { type: number, enum: [1, 2, 4], default: 2 }\n' +
      '  mode: { type: string, enum: [fast, full] }\nsteps:\n  a: { run: "echo {{ inputs.who }}" }\n')
    assert.deepEqual(show(result.problems), [])
    assert.equal(result.value?.inputs.who?.pattern, '[a-z]+')
    assert.deepEqual(result.value?.inputs.n?.enum, [1, 2, 4])
  })

  it('reports a pattern that does not compile, or on another type, and enum items of the wrong type', () => {
    const result = validate([
      'name: x',
      'inputs:',
      '  a: { type: string, pattern: "[a" }',
      '  b: { type: number, pattern: "[0-9]+" }',
      '  c: { type: boolean, enum: [yes] }',
      '  d: { type: number, enum: [1, two] }',
      'steps:',
      '  s: { run: echo }',
      ''
    ].join('\n'))
    assert.deepEqual(show(result.problems), ['3:31 error input/pattern', '4:22 error input/pattern', '5:23 error input/enum', '6:32 error input/enum'])
    assert.match(result.problems[0]?.message ?? '', /the pattern of input 'a' is not a valid regular expression: unterminated character class/)
    assert.match(result.problems[1]?.message ?? '', /input 'b' is a number input: pattern is for string inputs; use enum/)
  })

  it('reports a literal default the constraints refuse, not a template default', () => {
    const result = validate('name: x\non: { message: { topic: t } }\ninputs:\n  a: { type: string, pattern: "[a-z]+", default: "Hello world" }\n  b: { type: string, enum: [x, y], default: z }\n' +
      '  c: { type: string, pattern: "[a-z]+", default: "{{ trigger.message.c }}" }\nsteps:\n  s: { run: echo }\n')
    assert.deepEqual(show(result.problems), ['4:50 error input/not-allowed', '5:45 error input/not-allowed'])
    assert.match(result.problems[0]?.message ?? '', /the default of input 'a': 'Hello world' does not match the pattern \[a-z\]\+ \(the whole value must match\)/)
    assert.match(result.problems[1]?.message ?? '', /'z' is not one of the allowed values \(x, y\)/)
  })

  it('reports a literal with value a job template\'s constraints refuse', () => {
    const dir = path.join(work, 'with')
    mkdirSync(path.join(dir, 'jobstore'), { recursive: true })
    writeFileSync(path.join(dir, 'jobstore', 'job.yml'), 'name: job\ninputs:\n  mode: { type: string, enum: [fast, full] }\nrun: echo {{ inputs.mode }}\n')
    const result = createValidator().validatePipelineText(path.join(dir, 'p.yml'), 'name: x\nsteps:\n  a:\n    uses: job\n    with: { mode: slow }\n')
    assert.deepEqual(show(result.problems), ['5:19 error with/not-allowed'])
  })
})

describe('input constraints when a run starts', () => {
  const dir = path.join(work, 'run')
  mkdirSync(path.join(dir, 'jobstore'), { recursive: true })
  const marker = path.join(dir, 'ran')
  writeFileSync(path.join(dir, 'jobstore', 'job.yml'), `name: job\ninputs:\n  word: { type: string, pattern: "[a-z]+" }\nrun: touch ${marker}-job\n`)
  writeFileSync(path.join(dir, 'p.yml'), [
    'name: p',
    'on: { manual: {}, message: { topic: t } }',
    'inputs:',
    '  word: { type: string, pattern: "[a-z]+", default: "{{ default trigger.message.word \'fine\' }}" }',
    '  size: { type: number, enum: [1, 2], default: 1 }',
    '  passed: { type: string, default: ok }',
    'steps:',
    `  a: { run: "touch ${marker}" }`,
    '  b: { uses: job, with: { word: "{{ inputs.passed }}" } }',
    ''
  ].join('\n'))

  const pipeline = (): Pipeline => {
    const result = createValidator().validatePipelineFile(path.join(dir, 'p.yml'))
    assert.deepEqual(result.problems, [])
    return result.value as Pipeline
  }

  it('refuses a given value, or one a message sends through a template default, before any step', async () => {
    const node = await openNode({ dataDir: path.join(work, 'data') })
    try {
      for (const [options, message] of [
        [{ inputs: { word: 'rm -rf' } }, /^input 'word': 'rm -rf' does not match the pattern \[a-z\]\+ \(the whole value must match\)$/],
        [{ inputs: { word: 'ok', size: '3' } }, /^input 'size': '3' is not one of the allowed values \(1, 2\)$/],
        [{ trigger: { kind: 'message' as const, message: { word: 'two\nlines' } } }, /^input 'word': 'two\\nlines' does not match the pattern/]
      ] as const) {
        await assert.rejects(node.run(pipeline(), options), (err: unknown) => err instanceof InputError && message.test(err.message))
      }
      assert.equal(existsSync(marker), false, 'a step ran')
      // a job template's constraint holds for what `with` passes it: that step does not run
      const outcome = await node.run(pipeline(), { inputs: { word: 'ok', passed: 'Not Allowed' } })
      assert.equal(outcome.status, 'failed')
      assert.match(outcome.steps.b?.reason ?? '', /input 'word': 'Not Allowed' does not match the pattern/)
      assert.equal(existsSync(`${marker}-job`), false, 'the job template ran')
      // and values inside the constraints run
      assert.equal((await node.run(pipeline(), { inputs: { word: 'fine', size: '2' } })).status, 'succeeded')
    } finally {
      await node.close()
    }
  })

  it('bac run prints the refusal in one line', () => {
    const r = bac(['run', path.join(dir, 'p.yml'), '--input', 'word=Robert\'); DROP TABLE x;--'], { cwd: dir, env: { BAC_HOME: path.join(work, 'cli-data') } })
    assert.equal(r.code, 1, r.stderr)
    assert.equal(r.stderr, 'bac: input \'word\': \'Robert\'); DROP TABLE x;--\' does not match the pattern [a-z]+ (the whole value must match)\n')
  })
})

describe('pipelines/sed-csv.yml', () => {
  it('refuses a find value that would be sed commands, before sed runs (GNU sed\'s e command runs a program)', () => {
    const home = path.join(work, 'sed-home')
    const csv = path.join(work, 'data.csv')
    writeFileSync(csv, 'id,category\n1,Office Supplies\n')
    const added = bac(['ipfs', 'add', csv], { env: { BAC_HOME: home } })
    assert.equal(added.code, 0, added.stderr)
    const cid = added.stdout.trim()
    const pwned = path.join(work, 'pwned')
    const pipeline = path.join(ROOT, 'pipelines', 'sed-csv.yml')
    for (const find of [`^/X/;1e touch ${pwned};#`, `x/x/e touch ${pwned}`, `x\\n1e touch ${pwned}`, `x\n1e touch ${pwned}`]) {
      const r = bac(['run', pipeline, '--input', `data=${cid}`, '--input', `find=${find}`, '--outputs', path.join(work, 'out')], { env: { BAC_HOME: home } })
      assert.equal(r.code, 1, r.stdout + r.stderr)
      assert.match(r.stderr, /^bac: input 'find': '.*' does not match the pattern .* \(the whole value must match\)\n$/)
      assert.equal(existsSync(pwned), false, `sed ran a command for find=${find}`)
    }
    const replace = bac(['run', pipeline, '--input', `data=${cid}`, '--input', `replace=x/e touch ${pwned}`, '--outputs', path.join(work, 'out')], { env: { BAC_HOME: home } })
    assert.equal(replace.code, 1)
    assert.match(replace.stderr, /^bac: input 'replace': /)
    // plain text still works, and is replaced as text
    const ok = bac(['run', pipeline, '--input', `data=${cid}`, '--input', 'find=Office Supplies', '--input', 'replace=Books, "Rare"', '--outputs', path.join(work, 'out')], { env: { BAC_HOME: home } })
    assert.equal(ok.code, 0, ok.stderr)
    const result = /copied to (\S+)/.exec(ok.stderr + ok.stdout)?.[1] ?? ''
    const got = spawnSync('cat', [path.join(result, 'replace', 'merged', 'data.csv')], { encoding: 'utf8' }).stdout
    assert.equal(got, 'id,category\n1,Books, "Rare"\n')
  })
})
