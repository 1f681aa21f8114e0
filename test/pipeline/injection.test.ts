import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, it } from 'node:test'
import { parseShell } from '../../src/pipeline/shell-reader.js'
import { createValidator } from '../../src/index.js'

/**
 * template/script-injection: a value from outside (an input, trigger.*, a step's outputs, an env
 * variable set from one) that reaches an interpreter's script text is code there, however it is
 * shell-quoted. Each case is a `run` script and the values the lint must flag in it (by their
 * text), nothing more.
 */
const PIPELINE = (run: string): string => `name: x
on: { message: { topic: t } }
inputs:
  v: { type: string, default: x }
  safe: { type: string, pattern: "[a-z]+", default: x }
  choice: { type: string, enum: [a, b], default: a }
  n: { type: number, default: 1 }
  f: { type: file, default: ${JSON.stringify(path.resolve('package.json'))} }
env:
  P: "{{ inputs.v }}"
steps:
  first: { run: "echo" }
  s:
    needs: first
    env:
      V: "{{ inputs.v }}"
      S: "{{ inputs.safe }}"
      PLAIN: "{{ run.id }}"
    run: ${JSON.stringify(run)}
`

function flagged (run: string): string[] {
  const text = PIPELINE(run)
  const result = createValidator().validatePipelineText(path.resolve('p.yml'), text)
  const lines = text.split('\n')
  const runLine = lines.findIndex((l) => l.startsWith('    run: ')) + 1
  assert.deepEqual(result.errors.map((p) => p.message), [])
  return result.warnings.filter((p) => p.rule === 'template/script-injection').map((p) => {
    assert.equal(p.line, runLine)
    // the warning sits on the value: {{ … }} or $NAME (JSON escapes in the run line shift nothing before it here)
    return /^(\{\{[^}]*\}\}|\$\{?\w+)/.exec(lines[runLine - 1]?.slice(p.column - 1) ?? '')?.[0] ?? `?${p.column}`
  })
}

const FLAGGED: Array<[string, string[]]> = [
  // the shipped bug: an env variable set from an input, expanded by the shell into sed's script
  ['sed "s/$V/x/g" data.csv', ['$V']],
  ['sed -e "s/${V}/x/" data.csv', ['${V']],
  ['sed --expression={{ inputs.v }} data.csv', ['{{ inputs.v }}']],
  ['sed -n -e p -e {{ inputs.v }} data.csv', ['{{ inputs.v }}']],
  ['sed -i.bak -e {{ inputs.v }} data.csv', ['{{ inputs.v }}']],
  ['sed data.csv -e {{ inputs.v }}', ['{{ inputs.v }}']],
  ['awk {{ inputs.v }} data.csv', ['{{ inputs.v }}']],
  ['gawk -F, -v x=1 "/$P/" data.csv', ['$P']],
  ['python3 -c {{ inputs.v }}', ['{{ inputs.v }}']],
  ['python3 -u -c "$V"', ['$V']],
  ['bash -ec {{ trigger.message.cmd }}', ['{{ trigger.message.cmd }}']],
  ['sh -c {{ steps.first.outputs.path }}', ['{{ steps.first.outputs.path }}']],
  ['perl -ne {{ inputs.v }} data.csv', ['{{ inputs.v }}']],
  ['perl -pi -e {{ inputs.v }} data.csv', ['{{ inputs.v }}']],
  ['ruby -e {{ inputs.v }}', ['{{ inputs.v }}']],
  ['node -pe {{ inputs.v }}', ['{{ inputs.v }}']],
  ['node --eval={{ inputs.v }}', ['{{ inputs.v }}']],
  ['jq -r {{ inputs.v }} data.json', ['{{ inputs.v }}']],
  ['jq --arg k x -c {{ inputs.v }} data.json', ['{{ inputs.v }}']],
  ['sqlite3 db.sqlite {{ inputs.v }}', ['{{ inputs.v }}']],
  ['psql -d db -c {{ inputs.v }}', ['{{ inputs.v }}']],
  ['eval echo {{ inputs.v }}', ['{{ inputs.v }}']],
  ['sed {{ inputs.f.name }} data.csv', ['{{ inputs.f.name }}']],
  // wrappers and runners
  ['env LC_ALL=C timeout 5 nice -n 10 sed "s/$V/x/" data.csv', ['$V']],
  ['find . -name x -exec sed -i {{ inputs.v }} {} +', ['{{ inputs.v }}']],
  ['ls | xargs -0 -I {} sh -c {{ inputs.v }}', ['{{ inputs.v }}']],
  ['busybox awk {{ inputs.v }}', ['{{ inputs.v }}']],
  // a shell script inside a shell script: what the inner shell expands into an interpreter
  ["sh -c 'sed \"s/$V/x/\" data.csv'", ['$V']],
  ['bash -c "sed s/$V/x/ data.csv"', ['$V']],
  // programs read from standard input
  ['python3 - <<EOF\nprint({{ inputs.v }})\nEOF', ['{{ inputs.v }}']],
  ['python3 <<EOF\nprint("$V")\nEOF', ['$V']],
  ['bash <<\'EOF\'\nsed "s/$V/x/" data.csv\nEOF', ['$V']],
  ['python3 <<< {{ inputs.v }}', ['{{ inputs.v }}']],
  ['echo {{ inputs.v }} | sh', ['{{ inputs.v }}']],
  ['cat <<EOF | python3\nprint({{ inputs.v }})\nEOF', ['{{ inputs.v }}']],
  // the script's own variables, and command substitutions
  ['X={{ inputs.v }}; Y="pre $X"; sed "s/$Y/x/" data.csv', ['$Y']],
  ['export Z="$V"\nawk "/$Z/" data.csv', ['$Z']],
  ['out=$(sed "s/$V/x/" data.csv); echo "$out"', ['$V']],
  ['if true; then\n  for f in *.csv; do sed "s/$V/x/" "$f"; done\nfi', ['$V']],
  ['echo `sed "s/$V/x/" data.csv`', ['$V']],
  // several in one script
  ['sed "s/$V/{{ inputs.v }}/" data.csv && awk "/$P/" data.csv', ['$V', '{{ inputs.v }}', '$P']]
]

const NOT_FLAGGED: string[] = [
  // values after the script, or read as data by it
  'sed "s/a/b/" {{ inputs.v }}',
  'sed -f edit.sed {{ inputs.v }}',
  'sed --file=edit.sed "$V"',
  'awk -v x={{ inputs.v }} \'$0 ~ x\' data.csv',
  'awk -F, \'{ print ENVIRON["V"] }\' data.csv',
  'awk -f prog.awk {{ inputs.v }}',
  'python3 script.py {{ inputs.v }} "$V"',
  'python3 -c \'import os, sys; print(os.environ["V"], sys.argv[1])\' {{ inputs.v }}',
  'python3 -m http.server {{ inputs.n }}',
  'sh -c \'echo "$1"\' sh {{ inputs.v }}',
  'jq --arg k {{ inputs.v }} \'.[$k]\' data.json',
  'jq -f filter.jq {{ inputs.v }}',
  'node -e \'console.log(process.env.V)\' {{ inputs.v }}',
  'psql -v v={{ inputs.v }} -c \'select :\'\'v\'\'\'',
  'sed "s/a/b/" <<< {{ inputs.v }}',
  'python3 - <<\'EOF\'\nimport os\nprint(os.environ["V"])\nEOF',
  'cat <<EOF > script.py\nprint({{ inputs.v }})\nEOF',
  'echo {{ inputs.v }} | grep x',
  'printf "%s" {{ inputs.v }} | xargs python3',
  // values that cannot carry code: numbers, constrained inputs, CIDs, paths bac makes, run.*
  'sed "s/{{ inputs.n }}/x/; s/{{ inputs.safe }}/y/; s/{{ inputs.choice }}/z/" data.csv',
  'sed "s/$S/x/; s/$PLAIN/y/" data.csv',
  'sed "s/{{ inputs.f.cid }}/{{ run.id }}/" {{ inputs.f.path }}',
  'awk "/{{ steps.first.outputs.cid }}/" data.csv',
  'perl -ne "print if /$ENV{V}/" data.csv',
  // text that only looks like it
  'echo sed "s/$V/x/"',
  'grep -e "$V" data.csv',
  'command -v python3 {{ inputs.v }}',
  '# sed "s/$V/x/"\necho done',
  "echo 'sed \"s/$V/x/\"'",
  '{{#if inputs.v}}sed -e p data.csv{{/if}}'
]

describe('template/script-injection', () => {
  for (const [run, expected] of FLAGGED) {
    it(`flags ${expected.join(', ')} in: ${run.replaceAll('\n', '⏎')}`, () => {
      assert.deepEqual(flagged(run), expected)
    })
  }
  for (const run of NOT_FLAGGED) {
    it(`flags nothing in: ${run.replaceAll('\n', '⏎')}`, () => {
      assert.deepEqual(flagged(run), [])
    })
  }

  it('names the interpreter, the value and the fix', () => {
    const result = createValidator().validatePipelineText(path.resolve('p.yml'), PIPELINE('sed "s/$V/x/g" data.csv'))
    assert.equal(result.warnings[0]?.message, "$V is set from {{ inputs.v }}, and the shell expands it into sed's script (its first argument), where a value from outside is code; " +
      'pass it as data instead: an argument the script reads, or an env var the script reads itself ' +
      '(ENVIRON in awk, os.environ in Python, process.env in Node); or constrain the input with pattern: or enum:')
  })

  it('reads command and args, and job templates, too', () => {
    const step = createValidator().validatePipelineText(path.resolve('p.yml'),
      'name: x\ninputs:\n  v: { type: string }\nsteps:\n  a:\n    command: python3\n    args: ["-c", "print(\'{{ inputs.v }}\')", "{{ inputs.v }}"]\n')
    assert.deepEqual(step.warnings.map((p) => `${p.line}:${p.column} ${p.rule} ${p.path}`), ['7:26 template/script-injection /steps/a/args/1'])
    const job = createValidator().validateJobText(path.resolve('jobstore/j.yml'),
      'name: j\ninputs:\n  v: { type: string }\n  mode: { type: string, enum: [a, b] }\nenv:\n  V: "{{ inputs.v }}"\nrun: awk "/$V/ { print \\"{{ inputs.mode }}\\" }" data.csv\n')
    assert.deepEqual(job.warnings.map((p) => `${p.line}:${p.column} ${p.rule}`), ['7:12 template/script-injection', '7:26 template/quoted'])
  })
})

describe('a dropped file in script text', () => {
  it('flags where the file was dropped and its name, not the path bac wrote its content out at', () => {
    const text = (run: string): string => `name: x\non:\n  watch: { path: ../drop }\nsteps:\n  a:\n    run: ${JSON.stringify(run)}\n`
    const warned = (run: string): string[] => createValidator().validatePipelineText(path.resolve('p.yml'), text(run)).warnings
      .filter((p) => p.rule === 'template/script-injection')
      .map((p) => p.message.slice(0, 40))
    assert.deepEqual(warned('python3 -c "print(open(\'{{ trigger.file.path }}\').read())"'), [])
    assert.equal(warned('python3 -c "print(\'{{ trigger.file.source }}\')"').length, 1)
    assert.equal(warned('python3 -c "print(\'{{ trigger.file.name }}\')"').length, 1)
  })
})

describe('the shell reader behind it', () => {
  it('never throws and always ends, whatever the text', () => {
    let seed = 7
    const random = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
    const pieces = [
      'sed', ' ', '-e', '"', "'", '\\', '$', '${', '}', '$(', ')', '(', '`', '<<', 'EOF', '\n', '<<<', '|', ';', '&&',
      '{{ inputs.v }}', '{{', '}}', '#', 'sh -c', '$V', '<(', '>', '2>&1', '\t', 'x'
    ]
    for (let i = 0; i < 3000; i++) {
      let text = ''
      const length = Math.floor(random() * 40)
      for (let k = 0; k < length; k++) text += pieces[Math.floor(random() * pieces.length)] ?? ''
      assert.doesNotThrow(() => parseShell(text), text)
    }
    // deep nesting is read without exhausting the stack
    assert.doesNotThrow(() => parseShell('$('.repeat(100_000)))
    assert.doesNotThrow(() => parseShell('`'.repeat(100_001)))
  })

  it('splits commands, words, quotes and here-documents', () => {
    const commands = parseShell('A=1 sed -e "s/$X/y/" \'f g\' 2>/dev/null | wc -l\ncat <<-EOF\n\tbody $Y\n\tEOF\necho done')
    assert.deepEqual(commands.map((c) => c.words.map((w) => w.literal ?? `<${w.text}>`)), [['sed', '-e', '<s/\u0000/y/>', 'f g'], ['wc', '-l'], ['cat'], ['echo', 'done']])
    assert.deepEqual(commands[0]?.assignments.map((a) => a.name), ['A'])
    assert.equal(commands[1]?.pipedFrom, commands[0])
    assert.deepEqual(commands[2]?.stdin?.word.vars.map((v) => v.name), ['Y'])
  })
})
