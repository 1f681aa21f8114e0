import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { createValidator, type Problem } from '../../src/index.js'
import { ROOT } from '../helpers/paths.js'

/**
 * Mutates the shipped pipelines and job templates (delete, duplicate or re-indent lines, swap
 * value types, truncate, inject hostile strings) and checks that validation never throws and
 * places every problem inside the file. Seeded: a failure names its seed and case.
 */
const SEED = Number(process.env.MUTATION_SEED ?? 20261121)
const CASES_PER_FILE = Number(process.env.MUTATION_CASES ?? 400)

function random (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const HOSTILE = [
  '{{', '}}', '{{{', '}}}', '{{ inputs.nope }}', '{{#each}}', '{{/if}}', '{{> p }}', '{{ steps.zz.outputs.cid }}', '{{ ../../x }}',
  ': ', '- ', '[', ']', '{', '}', '"', "'", '\t', '\u0000', '&anchor ', '*alias', '!!binary ', '!tag ', '<<: *x', '? ',
  '|', '>', '#', '%YAML 1.2', '---', '...', '\r\n', '\\', '$(rm -rf /)', '`id`', '../../etc/passwd', 'é€😀', ' '.repeat(50),
  'x'.repeat(500), '0x1F', '1e999', '-.inf', 'null', '~', 'true', 'Qm', 'bafy', '/ipfs/', '@every', '*/5 * * *', '[*.zip'
]
const VALUES = ['42', '-1', '0', '1.5', 'true', 'null', '[]', '{}', '[a, b]', '{ a: 1 }', '""', "''", 'x', '10m', '0s', '"{{ x }}"']

type Mutation = (lines: string[], rnd: () => number) => string
const pick = <T>(list: readonly T[], rnd: () => number): T => list[Math.floor(rnd() * list.length)] as T

const MUTATIONS: Readonly<Record<string, Mutation>> = {
  'delete line': (lines, rnd) => { const l = [...lines]; l.splice(Math.floor(rnd() * l.length), 1); return l.join('\n') },
  'duplicate line': (lines, rnd) => { const l = [...lines]; const i = Math.floor(rnd() * l.length); l.splice(i, 0, l[i] ?? ''); return l.join('\n') },
  'indent line': (lines, rnd) => { const l = [...lines]; const i = Math.floor(rnd() * l.length); l[i] = pick(['  ', ' ', '    '], rnd) + (l[i] ?? ''); return l.join('\n') },
  'dedent line': (lines, rnd) => { const l = [...lines]; const i = Math.floor(rnd() * l.length); l[i] = (l[i] ?? '').replace(/^\s{1,2}/, ''); return l.join('\n') },
  'swap value': (lines, rnd) => {
    const l = [...lines]
    const candidates = l.map((line, i) => /:\s+\S/.test(line) ? i : -1).filter((i) => i >= 0)
    const i = pick(candidates, rnd)
    l[i] = (l[i] ?? '').replace(/:\s+.*$/, `: ${pick(VALUES, rnd)}`)
    return l.join('\n')
  },
  'truncate': (lines, rnd) => { const text = lines.join('\n'); return text.slice(0, Math.floor(rnd() * text.length)) },
  'inject': (lines, rnd) => { const text = lines.join('\n'); const at = Math.floor(rnd() * text.length); return text.slice(0, at) + pick(HOSTILE, rnd) + text.slice(at) },
  'replace key': (lines, rnd) => {
    const l = [...lines]
    const candidates = l.map((line, i) => /^\s*[\w-]+:/.test(line) ? i : -1).filter((i) => i >= 0)
    const i = pick(candidates, rnd)
    l[i] = (l[i] ?? '').replace(/[\w-]+:/, `${pick(['needs', 'uses', 'run', 'steps', 'inputs', 'on', 'with', 'foreach', 'if', 'x-y', '1', 'type', 'default'], rnd)}:`)
    return l.join('\n')
  }
}

function checkPlacement (problems: readonly Problem[], text: string, label: string): void {
  const lineCount = text.split('\n').length
  for (const p of problems) {
    assert.ok(Number.isInteger(p.line) && p.line >= 1 && p.line <= lineCount + 1, `${label}: line ${p.line} outside the file (${p.rule}: ${p.message})`)
    assert.ok(Number.isInteger(p.column) && p.column >= 1, `${label}: column ${p.column} (${p.rule})`)
    assert.match(p.rule, /^[a-z]+\/[a-z-]+$/, `${label}: rule id ${p.rule}`)
    assert.ok(p.message.length > 0 && !/\bundefined\b|\[object Object\]/.test(p.message), `${label}: unclear message ${JSON.stringify(p.message)}`)
    assert.ok(p.severity === 'error' || p.severity === 'warning')
  }
}

describe('mutated examples', () => {
  const validator = createValidator()
  const sources = [
    ...readdirSync(path.join(ROOT, 'pipelines')).filter((f) => f.endsWith('.yml')).map((f) => path.join(ROOT, 'pipelines', f)),
    ...readdirSync(path.join(ROOT, 'jobstore')).filter((f) => f.endsWith('.yml')).map((f) => path.join(ROOT, 'jobstore', f))
  ]
  let total = 0
  for (const file of sources) {
    it(`${path.relative(ROOT, file)}: ${CASES_PER_FILE} mutations never crash and every problem has a position`, () => {
      const original = readFileSync(file, 'utf8')
      const lines = original.split('\n')
      const rnd = random(SEED + total)
      const names = Object.keys(MUTATIONS)
      const isJob = file.includes(`${path.sep}jobstore${path.sep}`)
      for (let i = 0; i < CASES_PER_FILE; i++) {
        const name = names[i % names.length] ?? ''
        const text = (MUTATIONS[name] as Mutation)(lines, rnd)
        const label = `${path.basename(file)} case ${i} (${name}, seed ${SEED})`
        let result
        try {
          result = isJob ? validator.validateJobText(file, text) : validator.validatePipelineText(file, text)
        } catch (err) {
          assert.fail(`${label} threw: ${(err as Error).stack ?? String(err)}\n--- input ---\n${text}`)
        }
        checkPlacement(result.problems, text, label)
        assert.equal(result.value === undefined, result.errors.length > 0, `${label}: a model is built exactly when there is no error`)
        total++
      }
    })
  }
  it('ran at least 2,000 cases', () => assert.ok(total >= 2000, `${total} cases`))
})
