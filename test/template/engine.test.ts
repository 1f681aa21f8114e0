import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { createTemplateEngine, InvalidOptionError, shellQuote, TemplateError } from '../../src/index.js'

const t = createTemplateEngine()
const work = mkdtempSync(path.join(tmpdir(), 'bac-template-'))
after(() => rmSync(work, { recursive: true, force: true }))

const canary = path.join(work, 'pwned')
/** Values a file name or a message field could carry. */
const HOSTILE = [
  "it's",
  '"double" and \'single\'',
  `$(touch ${canary})`,
  `\`touch ${canary}\``,
  `; touch ${canary}`,
  `| touch ${canary}`,
  `&& touch ${canary} &`,
  'line one\nline two',
  '../../etc/passwd',
  '$HOME ${PATH} $0',
  '*',
  '-rf',
  '',
  ' leading and trailing ',
  '\\backslash\\',
  'tab\there',
  'unicode ünï €',
  "'; touch " + canary + "; echo '",
  '\'"\'"\''
]

/** Runs a shell command and returns the arguments printf saw, one per line between markers. */
function shellArgs (command: string): string[] {
  const out = execFileSync('sh', ['-c', command], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } })
  return out.split('\u0000').slice(0, -1)
}

describe('shell quoting of template values', () => {
  for (const value of HOSTILE) {
    it(`passes ${JSON.stringify(value)} as one inert argument`, () => {
      const command = t.render("printf '%s\\0' {{ inputs.v }} end", { inputs: { v: value } }, 'shell')
      assert.deepEqual(shellArgs(command), [value, 'end'])
      assert.equal(existsSync(canary), false, 'a command inside the value ran')
    })
  }

  it('quotes helper results and list items separately with words', () => {
    const command = t.render("printf '%s\\0' {{ upper inputs.v }} {{ words inputs.list }}", { inputs: { v: 'a b', list: ['x y', `$(touch ${canary})`] } }, 'shell')
    assert.deepEqual(shellArgs(command), ['A B', 'x y', `$(touch ${canary})`])
    assert.equal(existsSync(canary), false)
  })

  it('inserts {{{ }}} raw, unquoted', () => {
    assert.equal(t.render('echo {{{ inputs.v }}}', { inputs: { v: 'a b' } }, 'shell'), 'echo a b')
  })

  it('leaves safe words unquoted and quotes the rest', () => {
    assert.equal(shellQuote('/data/file-1.csv'), '/data/file-1.csv')
    assert.equal(shellQuote('a b'), "'a b'")
    assert.equal(shellQuote(''), "''")
    assert.equal(shellQuote("it's"), `'it'"'"'s'`)
  })

  it('does not quote in plain mode (command args, env, with)', () => {
    assert.equal(t.render('{{ inputs.v }}', { inputs: { v: "it's $(x)" } }, 'plain'), "it's $(x)")
  })
})

describe('values stay data wherever they stand in a script', () => {
  /** Where a value may stand, and how the script prints it back (one printf argument, NUL-ended). */
  const PLACES: Array<[string, string, (v: string) => string | string[]]> = [
    ['inside double quotes', 'printf \'%s\\0\' "{{ inputs.v }}"', (v) => v],
    ['inside double quotes, among text', 'printf \'%s\\0\' "[{{ inputs.v }}]"', (v) => `[${v}]`],
    ['inside single quotes', "printf '%s\\0' '<{{ inputs.v }}>'", (v) => `<${v}>`],
    ['in $( ) inside double quotes', 'printf \'%s\\0\' "$(printf %s {{ inputs.v }})"', (v) => v],
    ['in "…" in $( ) in "…"', 'printf \'%s\\0\' "$(printf %s "{{ inputs.v }}")"', (v) => v],
    ['in backquotes inside double quotes', 'printf \'%s\\0\' "`printf %s "{{ inputs.v }}"`"', (v) => v],
    ['in ${ } inside double quotes', 'printf \'%s\\0\' "${UNSET:-{{ inputs.v }} }"', (v) => `${v} `],
    ['in a here-document', "cat <<EOF | tr '\\n' '\\0'\n{{ inputs.v }}\nEOF", (v) => v.split('\n')],
    ['in a here-document with a quoted delimiter', "cat <<'EOF' | tr '\\n' '\\0'\n{{ inputs.v }}\nEOF", (v) => v.split('\n')],
    ['in a here-document with <<-', "cat <<-END | tr '\\n' '\\0'\n\t{{ inputs.v }}\n\tEND", (v) => v.split('\n')]
  ]
  for (const [where, template, expected] of PLACES) {
    it(`keeps every hostile value inert ${where}`, () => {
      for (const value of HOSTILE) {
        // a leading tab of a line is the here-document's to strip with <<-
        if (template.includes('<<-') && value.includes('\t')) continue
        const command = t.render(template, { inputs: { v: value } }, 'shell')
        const want = expected(value)
        assert.deepEqual(shellArgs(command), Array.isArray(want) ? want : [want], `${JSON.stringify(value)} rendered as ${JSON.stringify(command)}`)
        assert.equal(existsSync(canary), false, `a command inside ${JSON.stringify(value)} ran`)
      }
    })
  }

  it('refuses a value that would end the here-document it is written in', () => {
    assert.throws(() => t.render('cat <<EOF\n{{ inputs.v }}\nEOF', { inputs: { v: `x\nEOF\ntouch ${canary}` } }, 'shell'), /holds a line 'EOF', which would end the here-document/)
    assert.throws(() => t.render('cat <<-EOF\n{{ inputs.v }}\n\tEOF', { inputs: { v: '\t\tEOF' } }, 'shell'), TemplateError)
    // the same text elsewhere in the script is only a word
    assert.deepEqual(shellArgs(t.render("printf '%s\\0' {{ inputs.v }}", { inputs: { v: 'x\nEOF' } }, 'shell')), ['x\nEOF'])
  })

  it('reads a comment and an escaped quote as the shell does', () => {
    const value = `$(touch ${canary})'"`
    assert.deepEqual(shellArgs(t.render("# a comment's quote\nprintf '%s\\0' \\' {{ inputs.v }}", { inputs: { v: value } }, 'shell')), ["'", value])
    assert.equal(existsSync(canary), false)
  })
})

describe('strict rendering', () => {
  const ctx = { inputs: { a: 'x', n: null, list: [1, 2], file: { path: '/in/f', cid: 'Qm1', toString () { return '/in/f' } } } }

  it('fails on an unknown name, naming it and its expression', () => {
    assert.throws(() => t.render('echo {{ inputs.b }}', ctx, 'shell'), (err: unknown) =>
      err instanceof TemplateError && /'b' is not defined in \{\{ inputs\.b \}\}/.test(err.message) && err.line === 1)
  })

  it('fails on an unknown name deeper in a path and inside helper arguments', () => {
    assert.throws(() => t.render('{{ inputs.b.c }}', ctx, 'plain'), TemplateError)
    assert.throws(() => t.render('{{ upper inputs.b }}', ctx, 'plain'), /'b' is not defined/)
    assert.throws(() => t.render('{{#if inputs.b}}x{{/if}}', ctx, 'plain'), /'b' is not defined/)
  })

  it('renders null as empty and lets default replace it', () => {
    assert.equal(t.render('[{{ inputs.n }}]', ctx, 'plain'), '[]')
    assert.equal(t.render('{{ default inputs.n "fallback" }}', ctx, 'plain'), 'fallback')
  })

  it('renders lists as JSON and file inputs as their path', () => {
    assert.equal(t.render('{{ inputs.list }} {{ inputs.file }} {{ inputs.file.cid }}', ctx, 'plain'), '[1,2] /in/f Qm1')
  })

  it('fails on an unknown helper', () => {
    assert.throws(() => t.render('{{ nope inputs.a }}', ctx, 'plain'), TemplateError)
  })

  it('reports syntax errors with a line and column', () => {
    assert.throws(() => t.render('a\nb {{ inputs.a }', ctx, 'plain'), (err: unknown) =>
      err instanceof TemplateError && err.line === 2 && err.column === 15 && /syntax error/.test(err.message))
  })

  it('keeps block helpers working with locals', () => {
    assert.equal(t.render('{{#each inputs.list}}{{@index}}={{this}};{{/each}}', ctx, 'plain'), '0=1;1=2;')
    assert.equal(t.render('{{#each inputs.list as |x|}}{{x}}{{/each}}', ctx, 'shell'), '12')
  })
})

describe('helpers', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['{{ basename inputs.p }}', { p: '/a/b/c.csv' }, 'c.csv'],
    ['{{ dirname inputs.p }}', { p: '/a/b/c.csv' }, '/a/b'],
    ['{{ extname inputs.p }}', { p: '/a/b/c.csv' }, '.csv'],
    ['{{ json inputs.p }}', { p: { a: [1, 'x'] } }, '{"a":[1,"x"]}'],
    ['{{ join inputs.p "," }}', { p: ['a', 'b'] }, 'a,b'],
    ['{{ lower inputs.p }}-{{ upper inputs.p }}', { p: 'Ab' }, 'ab-AB'],
    ['{{ trim inputs.p }}', { p: '  x ' }, 'x'],
    ['{{ eq inputs.p "x" }} {{ ne inputs.p "x" }}', { p: 'x' }, 'true false'],
    ['{{ and inputs.p true }} {{ or false inputs.p }} {{ not inputs.p }}', { p: 1 }, 'true true false'],
    ['{{ default inputs.p "d" }}', { p: '' }, 'd']
  ]
  for (const [source, inputs, want] of cases) {
    it(source, () => assert.equal(t.render(source, { inputs }, 'plain'), want))
  }
})

describe('analysis', () => {
  it('lists context names, skipping block locals', () => {
    const a = t.analyze('{{ inputs.a }} {{#each steps.x.outputs as |o|}}{{ o }}{{ this.y }}{{ ../env.Z }}{{/each}} {{ upper run.id }}')
    assert.deepEqual(a.references.map((r) => r.parts.join('.')), ['inputs.a', 'steps.x.outputs', 'env.Z', 'run.id'])
    assert.deepEqual(a.problems, [])
  })

  it('finds raw and quoted expressions, ignoring comments', () => {
    const a = t.analyze(`echo {{{ inputs.a }}} "x {{ inputs.b }}" '{{ inputs.c }}' {{ inputs.d }} # "{{ inputs.e }}"`)
    assert.equal(a.raw.length, 1)
    assert.deepEqual(a.quoted.map((l) => l.column), [26, 43])
  })

  it('reports unknown helpers and partials without throwing', () => {
    const a = t.analyze('{{ shout x }} {{> part }} {{ lower (nope 1) }}')
    assert.deepEqual(a.problems.map((p) => p.rule), ['template/unknown-helper', 'template/partial', 'template/unknown-helper'])
  })
})

describe('block params', () => {
  it('checks names under a block param strictly too', () => {
    const ctx = { inputs: { list: [{ a: 1 }] } }
    assert.equal(t.render('{{#each inputs.list as |x|}}{{x.a}}{{/each}}', ctx, 'plain'), '1')
    assert.throws(() => t.render('{{#each inputs.list as |x|}}{{x.b}}{{/each}}', ctx, 'plain'), /'b' is not defined/)
  })
})

describe('engine options', () => {
  it('rejects a cache size that is not a positive whole number, naming the option', () => {
    assert.throws(() => createTemplateEngine({ cacheSize: 0 }), (err: unknown) => err instanceof InvalidOptionError && err.option === 'cacheSize')
  })

  it('keeps working past its cache size', () => {
    const small = createTemplateEngine({ cacheSize: 2 })
    for (let i = 0; i < 5; i++) assert.equal(small.render(`{{ inputs.a }}-${i}`, { inputs: { a: 'x' } }, 'plain'), `x-${i}`)
  })
})
