import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { createValidator, validatePaths } from '../../src/index.js'
import { ROOT } from '../helpers/paths.js'

const validator = createValidator()
const shipped = [
  ...readdirSync(path.join(ROOT, 'pipelines')).filter((f) => f.endsWith('.yml')).map((f) => path.join(ROOT, 'pipelines', f)),
  ...readdirSync(path.join(ROOT, 'jobstore')).filter((f) => f.endsWith('.yml')).map((f) => path.join(ROOT, 'jobstore', f))
]

describe('shipped pipelines and job templates', () => {
  for (const file of shipped) {
    it(`${path.relative(ROOT, file)} is valid, without warnings`, () => {
      const result = validator.validateFile(file)
      assert.deepEqual(result.problems.map((p) => `${p.line}:${p.column} ${p.message}`), [])
      assert.ok(result.value !== undefined)
    })
    it(`${path.relative(ROOT, file)} names its schema for editors on line 1`, () => {
      const first = readFileSync(file, 'utf8').split('\n')[0] ?? ''
      const kind = file.includes(`${path.sep}jobstore${path.sep}`) ? 'job' : 'pipeline'
      assert.equal(first, `# yaml-language-server: $schema=../schemas/${kind}.schema.json`)
    })
  }

  it('validates the default folders clean', () => {
    const cwd = process.cwd()
    process.chdir(ROOT)
    try {
      const result = validatePaths()
      assert.equal(result.errors, 0)
      assert.ok(result.files.length >= 5)
    } finally {
      process.chdir(cwd)
    }
  })

  it('builds the demo pipeline model: DAG order, uses resolved, defaults applied', () => {
    const { value: p } = validator.validatePipelineFile(path.join(ROOT, 'pipelines', 'sales-report.yml'))
    assert.ok(p !== undefined)
    assert.deepEqual(p.order, ['extract', 'aggregate'])
    const extract = p.steps.extract
    const aggregate = p.steps.aggregate
    assert.ok(extract !== undefined && aggregate !== undefined)
    assert.equal(extract.uses?.template.file, path.join(ROOT, 'jobstore', 'extract.yml'))
    assert.equal(extract.action.kind, 'run')
    assert.equal(extract.timeoutMs, 600_000)
    assert.deepEqual(Object.keys(extract.outputs), ['files'])
    assert.deepEqual(aggregate.needs, ['extract'])
    assert.deepEqual(aggregate.retries, { attempts: 2, backoffMs: 1000, factor: 2 })
    assert.equal(aggregate.executor, 'process')
    assert.equal(aggregate.nodes, 1)
    assert.equal(aggregate.merge, 'merged')
    assert.equal(p.on.manual, true)
    assert.deepEqual(p.on.watch, { path: path.join(ROOT, 'drop'), glob: '*.zip', input: 'archive', recursive: false, after: 'move', stableMs: 300 })
    assert.equal(p.inputs.archive?.type, 'file')
  })

  it('builds every step form', () => {
    const result = validator.validatePipelineText(path.join(ROOT, 'pipelines', 'inline.yml'), `
name: forms
on: { manual: {}, schedule: { cron: "0 3 * * *", timezone: Europe/Paris } }
steps:
  a:
    command: echo
    args: [hello, 42, true]
    timeout: 1h30m
    retries: 3
    resources: { cpus: 2, memory: 1G }
    executor: vm
    image: python
    nodes: 3
    runs-on: [linux, zone=eu]
    merge: per-node
  b:
    needs: [a]
    foreach: [x, y]
    if: eq item.value "x"
    run: echo {{ item.value }}
  c:
    needs: a
    inputs: { data: "{{ steps.a.outputs.cid }}" }
    foreach: { files: data, glob: "*.csv" }
    shell: bash
    run: wc -l {{ item.path }}
`)
    assert.deepEqual(result.problems, [])
    const p = result.value
    assert.ok(p !== undefined)
    assert.deepEqual(p.steps.a?.action, { kind: 'command', command: 'echo', args: ['hello', '42', 'true'] })
    assert.equal(p.steps.a?.timeoutMs, 5_400_000)
    assert.deepEqual(p.steps.a?.retries, { attempts: 3, backoffMs: 1000, factor: 2 })
    assert.deepEqual(p.steps.a?.resources, { cpus: 2, memoryBytes: 1024 ** 3 })
    assert.deepEqual(p.steps.a?.runsOn, ['linux', 'zone=eu'])
    assert.equal(p.steps.b?.if, '{{eq item.value "x"}}')
    assert.deepEqual(p.steps.b?.foreach, { kind: 'items', items: ['x', 'y'] })
    assert.deepEqual(p.steps.c?.foreach, { kind: 'files', input: 'data', glob: '*.csv' })
    assert.deepEqual(p.steps.c?.action, { kind: 'run', run: 'wc -l {{ item.path }}', shell: 'bash' })
    assert.deepEqual(p.on.schedule, { cron: '0 3 * * *', timezone: 'Europe/Paris' })
    assert.equal(p.order.indexOf('a') < p.order.indexOf('c'), true)
  })
})

describe('published schemas', () => {
  for (const kind of ['pipeline', 'job']) {
    it(`${kind}.schema.json gives every property a title and a description`, () => {
      const schema = JSON.parse(readFileSync(path.join(ROOT, 'schemas', `${kind}.schema.json`), 'utf8')) as unknown
      const missing: string[] = []
      const walk = (node: unknown, where: string, inConditional: boolean): void => {
        if (typeof node !== 'object' || node === null) return
        const map = node as Record<string, unknown>
        for (const [key, value] of Object.entries(map)) {
          const conditional = inConditional || key === 'if' || key === 'then' || key === 'allOf' || key === 'propertyNames'
          if (key === 'properties' && typeof value === 'object' && value !== null && !conditional) {
            for (const [name, prop] of Object.entries(value as Record<string, Record<string, unknown>>)) {
              const target = prop.$ref === undefined ? prop : undefined
              if (target !== undefined && (typeof target.title !== 'string' || typeof target.description !== 'string')) missing.push(`${where}/${name}`)
            }
          }
          walk(value, `${where}/${key}`, conditional)
        }
      }
      walk(schema, '', false)
      assert.deepEqual(missing, [])
    })
  }
})
