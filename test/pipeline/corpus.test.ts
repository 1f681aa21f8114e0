import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { createValidator } from '../../src/index.js'
import { FIXTURES } from '../helpers/paths.js'

/**
 * The broken-pipeline corpus: each file in test/fixtures/invalid states the exact problems it
 * must produce in header lines:
 *   # expect: LINE:COL rule            an error in this file
 *   # expect: other.yml LINE:COL rule  an error in another file (a job template it uses)
 *   # warning: LINE:COL rule           a warning
 * Validation must report exactly these: no more, no fewer, at these positions.
 */
const DIR = path.join(FIXTURES, 'invalid')
const files = [
  ...readdirSync(DIR).filter((f) => f.endsWith('.yml')),
  ...readdirSync(path.join(DIR, 'jobstore')).filter((f) => f.endsWith('.yml')).map((f) => `jobstore/${f}`)
].sort()

function expected (file: string): string[] {
  const text = readFileSync(path.join(DIR, file), 'utf8')
  return [...text.matchAll(/^# (expect|warning): (?:(\S+\.yml) )?(\d+:\d+) (\S+)$/gm)]
    .map((m) => `${m[1] === 'expect' ? 'error' : 'warning'} ${m[2] ?? file} ${m[3] ?? ''} ${m[4] ?? ''}`)
    .sort()
}

describe('broken-pipeline corpus', () => {
  it('has at least 40 broken files, each with an expectation', () => {
    assert.ok(files.length >= 40, `only ${files.length} files`)
    // valid job templates the broken pipelines use
    const helpers = ['jobstore/greet.yml', 'jobstore/takes-file.yml', 'jobstore/constrained.yml']
    for (const file of files.filter((f) => !helpers.includes(f))) {
      assert.ok(expected(file).length > 0, `${file} states no expectation`)
    }
  })

  const rules = new Set<string>()
  for (const file of files) {
    it(file, () => {
      const cwd = process.cwd()
      process.chdir(DIR)
      try {
        const result = createValidator().validateFile(file)
        const got = result.problems.map((p) => `${p.severity} ${path.relative(DIR, path.resolve(p.file))} ${p.line}:${p.column} ${p.rule}`).sort()
        assert.deepEqual(got, expected(file), result.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message} [${p.rule}]`).join('\n'))
        for (const p of result.problems) {
          rules.add(p.rule)
          assert.ok(p.message.length > 10 && !p.message.includes('undefined'), `unclear message: ${p.message}`)
        }
        assert.equal(result.value, result.errors.length === 0 ? result.value : undefined)
      } finally {
        process.chdir(cwd)
      }
    })
  }

  it('covers every rule family', () => {
    const families = ['yaml/syntax', 'yaml/duplicate-key', 'yaml/multiple-documents', 'schema/type', 'schema/unknown-key', 'schema/required',
      'schema/enum', 'schema/format', 'schema/minimum', 'schema/name', 'schema/min-properties', 'step/kind', 'step/args-without-command',
      'step/image-without-vm', 'step/with-without-uses', 'step/input-shadows', 'needs/unknown-step', 'needs/cycle', 'uses/not-found',
      'uses/invalid', 'with/unknown-input', 'with/missing-input', 'template/syntax', 'template/unknown-name', 'template/unknown-step',
      'template/step-not-needed', 'template/unknown-helper', 'template/partial', 'template/raw', 'template/quoted', 'duration/invalid',
      'cron/invalid', 'timezone/invalid', 'glob/invalid', 'cid/invalid', 'input/not-found', 'foreach/unknown-input', 'message/schema',
      'watch/unknown-input', 'resources/memory', 'step/shell-without-run', 'step/inputs-with-uses', 'yaml/empty', 'input/required-with-default', 'template/decorator',
      'yaml/encoding', 'input/pattern', 'input/enum', 'input/not-allowed', 'with/not-allowed', 'template/script-injection']
    assert.deepEqual(families.filter((r) => !rules.has(r)), [])
  })
})
