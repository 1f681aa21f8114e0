import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { bac } from '../helpers/cli.js'
import { BAC_BIN, FIXTURES, ROOT } from '../helpers/paths.js'

const INVALID = path.join(FIXTURES, 'invalid')
/** What `bac validate` may load: parsers, schema runtime, templates, CLI; never libp2p, Helia or SQLite. */
// ajv's compiler and its packages load because the demo's downloads.yml declares a message schema, which validation compiles
const ALLOWED_PACKAGES = new Set(['yaml', 'ajv', 'fast-deep-equal', 'json-schema-traverse', 'fast-uri', 'handlebars', 'source-map', 'commander', 'cron-parser', 'luxon', 'picomatch', 'multiformats'])
const work = mkdtempSync(path.join(tmpdir(), 'bac-cli-'))
after(() => rmSync(work, { recursive: true, force: true }))

describe('bac validate', () => {
  it('checks pipelines/ and jobstore/ by default and exits 0 when clean', () => {
    const r = bac(['validate'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^\d+ files valid\n$/)
  })

  it('prints file:line:col: error: message [rule] and exits 1', () => {
    const r = bac(['validate', '29-needs-unknown.yml'], { cwd: INVALID })
    assert.equal(r.code, 1)
    assert.equal(r.stdout, "29-needs-unknown.yml:7:20: error: step 'test' needs 'biuld2', which is not a step (did you mean 'build'?) [needs/unknown-step]\n")
    assert.equal(r.stderr, '1 error, 0 warnings in 1 file checked\n')
  })

  it('reports every problem of every file, not just the first', () => {
    const r = bac(['validate', '.'], { cwd: INVALID })
    assert.equal(r.code, 1)
    const lines = r.stdout.trim().split('\n')
    assert.ok(lines.length >= 70, `${lines.length} lines`)
    for (const line of lines) assert.match(line, /^[\w./-]+\.yml:\d+:\d+: (error|warning): .+ \[[a-z]+\/[a-z-]+\]$/)
    // a job template's problem is reported once, though the template is used and also checked directly
    assert.equal(lines.filter((l) => l.startsWith('jobstore/broken.yml:4:14:')).length, 1)
  })

  it('exits 0 when there are only warnings', () => {
    const r = bac(['validate', '61-raw-warning.yml'], { cwd: INVALID })
    assert.equal(r.code, 0)
    assert.equal(r.stdout.split('\n').filter(Boolean).length, 2)
    assert.equal(bac(['validate', '--quiet', '61-raw-warning.yml'], { cwd: INVALID }).stdout, '')
  })

  it('--format json gives every problem with its position and JSON path', () => {
    const r = bac(['validate', '--format', 'json', '12-wrong-type-nodes.yml', '29-needs-unknown.yml'], { cwd: INVALID })
    assert.equal(r.code, 1)
    const report = JSON.parse(r.stdout) as { files: string[], errors: number, problems: Array<Record<string, unknown>> }
    assert.deepEqual(report.files, ['12-wrong-type-nodes.yml', '29-needs-unknown.yml'])
    assert.equal(report.errors, 2)
    assert.deepEqual(report.problems[0], {
      file: '12-wrong-type-nodes.yml', line: 6, column: 12, severity: 'error', rule: 'schema/type',
      message: 'steps.a.nodes must be a whole number, got a string', path: '/steps/a/nodes'
    })
  })

  it('--format github prints workflow-command annotations', () => {
    const r = bac(['validate', '-f', 'github', '29-needs-unknown.yml', '61-raw-warning.yml'], { cwd: INVALID })
    assert.equal(r.code, 1)
    const lines = r.stdout.trim().split('\n')
    assert.equal(lines[0], "::error file=29-needs-unknown.yml,line=7,col=20,title=needs/unknown-step::step 'test' needs 'biuld2', which is not a step (did you mean 'build'?)")
    assert.match(lines[1] ?? '', /^::warning file=61-raw-warning\.yml,line=9,col=12,title=template\/raw::/)
  })

  it('escapes newlines and percent signs in annotations', () => {
    const file = path.join(work, 'multi.yml')
    writeFileSync(file, 'name: x\nsteps:\n  a:\n    run: "echo 100%"\n    nodes: "a\\nb"\n')
    const r = bac(['validate', '-f', 'github', file])
    assert.match(r.stdout, /steps\.a\.nodes must be a whole number, got a string/)
    assert.doesNotMatch(r.stdout.trim(), /\n(?!::)/)
  })

  it('exits 2 with one line for a path that does not exist', () => {
    const r = bac(['validate', 'no/such/pipeline.yml'])
    assert.equal(r.code, 2)
    assert.equal(r.stderr, 'bac: no/such/pipeline.yml: no such file or folder\n')
  })

  it('exits 2 with one line for a device, a FIFO or a socket, without opening it', async () => {
    const fifo = path.join(work, 'fifo.yml')
    execFileSync('mkfifo', [fifo])
    const socket = path.join(work, 'socket.yml')
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(socket, resolve))
    try {
      // a FIFO nobody writes to blocks whoever opens it: the process must end on its own, well
      // within a bound derived from how long a bare bac takes to start here
      const started = Date.now()
      bac(['--version'])
      const bound = Math.max(10_000, 20 * (Date.now() - started))
      for (const [given, kind] of [['/dev/zero', 'a character device'], [fifo, 'a FIFO \\(named pipe\\)'], [socket, 'a socket']] as const) {
        const r = spawnSync(process.execPath, [BAC_BIN, 'validate', given], { encoding: 'utf8', timeout: bound, env: { ...process.env, NO_COLOR: '1' } })
        assert.equal(r.signal, null, `bac validate ${given} did not end within ${bound} ms`)
        assert.equal(r.status, 2, r.stderr)
        assert.match(r.stderr, new RegExp(`^bac: ${given.replaceAll('.', '\\.')} is ${kind}, not a file or folder; bac validates regular files only\n$`))
      }
    } finally {
      server.close()
    }
  })

  it('refuses a job template or a message schema file that is a FIFO, at the line naming it, without blocking', () => {
    const dir = path.join(work, 'fifo-project')
    mkdirSync(path.join(dir, 'jobstore'), { recursive: true })
    execFileSync('mkfifo', [path.join(dir, 'jobstore', 'job.yml')])
    execFileSync('mkfifo', [path.join(dir, 'schema.json')])
    writeFileSync(path.join(dir, 'p.yml'), 'name: x\non:\n  message: { topic: t, schema: schema.json }\nsteps:\n  a:\n    uses: job\n')
    const r = spawnSync(process.execPath, [BAC_BIN, 'validate', 'p.yml'], { cwd: dir, encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } })
    assert.equal(r.signal, null, 'bac validate blocked on a FIFO')
    assert.equal(r.status, 1, r.stderr)
    const lines = r.stdout.trim().split('\n')
    assert.equal(lines.length, 2, r.stdout)
    const fifo = 'is a FIFO \\(named pipe\\), not a regular file; bac reads only regular files here'
    assert.match(lines[0] ?? '', new RegExp(`^p\\.yml:3:32: error: cannot load the message schema schema\\.json: .*schema\\.json ${fifo} \\[message/schema\\]$`))
    assert.match(lines[1] ?? '', new RegExp(`^p\\.yml:6:11: error: job template 'job' cannot be read: .*job\\.yml ${fifo} \\[uses/unreadable\\]$`))
  })

  it('takes only regular .yml files from a folder: FIFOs and links to devices are passed over', () => {
    const dir = path.join(work, 'specials')
    mkdirSync(dir)
    execFileSync('mkfifo', [path.join(dir, 'a-fifo.yml')])
    symlinkSync('/dev/zero', path.join(dir, 'b-zero.yml'))
    symlinkSync(path.join(dir, 'a-fifo.yml'), path.join(dir, 'c-fifo-link.yml'))
    writeFileSync(path.join(dir, 'd-real.yml'), 'name: x\nsteps:\n  a: { run: echo hi }\n')
    symlinkSync(path.join(dir, 'd-real.yml'), path.join(dir, 'e-link.yml'))
    const r = spawnSync(process.execPath, [BAC_BIN, 'validate', '--format', 'json', dir], { encoding: 'utf8', timeout: 30_000 })
    assert.equal(r.signal, null, 'bac validate hung on a special file')
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual((JSON.parse(r.stdout) as { files: string[] }).files.map((f) => path.basename(f)), ['d-real.yml', 'e-link.yml'])
  })

  it('reports a file in invalid UTF-8 at its first bad byte', () => {
    const file = path.join(work, 'latin1.yml')
    writeFileSync(file, Buffer.concat([Buffer.from('name: x\nsteps:\n  a: { run: echo caf'), Buffer.from([0xe9]), Buffer.from(' }\n')]))
    const r = bac(['validate', file])
    assert.equal(r.code, 1)
    assert.equal(r.stdout, `${file}:3:21: error: the file is not valid UTF-8: byte 0xe9 here is not part of a character; save it as UTF-8 [yaml/encoding]\n`)
  })

  it('exits 2 when the paths hold no YAML file', () => {
    const empty = path.join(work, 'empty')
    mkdirSync(empty)
    const r = bac(['validate', empty])
    assert.equal(r.code, 2)
    assert.equal(r.stderr, `bac: no .yml or .yaml files in ${empty}\n`)
  })

  it('exits 2 for unknown options and bad formats', () => {
    const unknown = bac(['validate', '--nope'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /unknown option '--nope'/)
    const format = bac(['validate', '--format', 'xml'])
    assert.equal(format.code, 2)
    assert.match(format.stderr, /Allowed choices are text, json, github/)
    const command = bac(['valdate'])
    assert.equal(command.code, 2)
    assert.match(command.stderr, /Did you mean validate\?/)
  })

  it('never prints a stack trace for a broken file', () => {
    const file = path.join(work, 'binary.yml')
    writeFileSync(file, Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x7b, 0x7b, 0x0a, 0x3a]))
    const r = bac(['validate', file])
    assert.equal(r.code, 1)
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /)
  })

  it('loads no heavy module: only the parser, schema, template and CLI packages', () => {
    const trace = path.join(work, 'trace.txt')
    writeFileSync(trace, '')
    const r = bac(['validate'], { nodeArgs: ['--import', path.join(ROOT, 'test/helpers/trace-imports.mjs')], env: { BAC_TRACE_FILE: trace } })
    assert.equal(r.code, 0, r.stderr)
    const packages = new Set(readFileSync(trace, 'utf8').split('\n')
      .map((url) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1])
      .filter((p): p is string => p !== undefined))
    // loaded at run time: lazily required packages (picomatch for the demo's glob) and ajv's runtime
    assert.deepEqual([...packages].filter((p) => !ALLOWED_PACKAGES.has(p)), [])
    assert.ok(packages.has('ajv') && packages.has('picomatch'), 'the trace saw the lazy loads')
  })

  it('bundles into the start-up chunks only the packages bac validate needs', () => {
    interface Output { imports: Array<{ path: string, kind: string }>, inputs: Record<string, unknown>, entryPoint?: string }
    const meta = JSON.parse(readFileSync(path.join(ROOT, 'dist', 'bin', 'meta.json'), 'utf8')) as { outputs: Record<string, Output> }
    // the entry and what it imports statically load at start; dynamic imports load on use
    const entry = Object.keys(meta.outputs).find((o) => o.endsWith('bac.mjs')) ?? ''
    const startup = new Set<string>()
    const pending = [entry]
    while (pending.length > 0) {
      const out = pending.pop() as string
      if (startup.has(out) || meta.outputs[out] === undefined) continue
      startup.add(out)
      for (const i of meta.outputs[out].imports) if (i.kind === 'import-statement') pending.push(i.path)
    }
    const bundled = new Set([...startup].flatMap((o) => Object.keys(meta.outputs[o]?.inputs ?? {}))
      .map((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1])
      .filter((p): p is string => p !== undefined))
    assert.deepEqual([...bundled].filter((p) => !ALLOWED_PACKAGES.has(p)), [])
    assert.ok(bundled.has('yaml') && bundled.has('handlebars') && bundled.has('commander'))
  })
})

describe('bac schema, --version, --help', () => {
  it('prints the pipeline schema, and the job schema with --job', () => {
    const pipeline = bac(['schema'])
    assert.equal(pipeline.code, 0)
    assert.deepEqual(JSON.parse(pipeline.stdout), JSON.parse(readFileSync(path.join(ROOT, 'schemas/pipeline.schema.json'), 'utf8')))
    const job = bac(['schema', '--job'])
    assert.deepEqual(JSON.parse(job.stdout), JSON.parse(readFileSync(path.join(ROOT, 'schemas/job.schema.json'), 'utf8')))
  })

  it('prints the version and help with exit 0', () => {
    const version = bac(['--version'])
    assert.equal(version.code, 0)
    assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version)
    const help = bac(['--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /validate \[options\] \[paths\.\.\.\]/)
  })
})
