import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import net from 'node:net'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { isInside } from '../../src/common/files.js'
import {
  createValidator, FileTooLargeError, NotRegularFileError, PathNotAllowedError, regularFiles, type Problem, type ValidatorFiles
} from '../../src/index.js'

/**
 * What the validator reads: regular files only (a FIFO or a device is refused unopened, so
 * nothing blocks), at most 64 MiB, strict UTF-8; and only through its `files` component.
 */
const work = mkdtempSync(path.join(tmpdir(), 'bac-files-'))
after(() => rmSync(work, { recursive: true, force: true }))

let counter = 0
/** A fresh project folder with a jobstore/. */
function project (): string {
  const dir = path.join(work, `p${counter++}`)
  mkdirSync(path.join(dir, 'jobstore'), { recursive: true })
  mkdirSync(path.join(dir, 'pipelines'))
  return dir
}

const show = (problems: readonly Problem[]): string[] => problems.map((p) => `${path.basename(p.file)} ${p.line}:${p.column} ${p.severity} ${p.rule}`)

const USES = 'name: x\nsteps:\n  a:\n    uses: job\n'
const SCHEMA = 'name: x\non:\n  message:\n    topic: t\n    schema: schema.json\nsteps:\n  a: { run: echo hi }\n'

describe('the files the validator reads', () => {
  it('refuses a device or a FIFO given as the pipeline, without opening it', () => {
    const dir = project()
    const fifo = path.join(dir, 'pipelines', 'fifo.yml')
    execFileSync('mkfifo', [fifo])
    const validator = createValidator()
    // a FIFO nobody writes to would block an open for ever: this returns at once
    assert.throws(() => validator.validatePipelineFile(fifo), (err: unknown) => err instanceof NotRegularFileError && /FIFO/.test(err.message))
    assert.throws(() => validator.validatePipelineFile('/dev/zero'), (err: unknown) => err instanceof NotRegularFileError && /character device/.test(err.message))
    assert.throws(() => validator.validateJobFile('/dev/zero'), NotRegularFileError)
  })

  it('refuses a file larger than 64 MiB without reading it', () => {
    const dir = project()
    const big = path.join(dir, 'pipelines', 'big.yml')
    writeFileSync(big, '')
    truncateSync(big, 64 * 1024 * 1024 + 1) // sparse: nothing is written
    assert.throws(() => createValidator().validatePipelineFile(big), (err: unknown) => err instanceof FileTooLargeError && /67108864 bytes, the most bac reads as a pipeline/.test(err.message))
    // at the limit it is read (and is not YAML: NUL bytes)
    const limit = path.join(dir, 'pipelines', 'limit.yml')
    writeFileSync(limit, '')
    truncateSync(limit, 64 * 1024 * 1024)
    assert.equal(createValidator().validatePipelineFile(limit).errors.length > 0, true)
  })

  it('reports invalid UTF-8 at the line and column of the first bad byte', () => {
    const dir = project()
    const file = path.join(dir, 'pipelines', 'latin1.yml')
    writeFileSync(file, Buffer.concat([Buffer.from('name: x\nsteps:\n  a: { run: "echo caf'), Buffer.from([0xe9]), Buffer.from('" }\n')]))
    const result = createValidator().validatePipelineFile(file)
    assert.deepEqual(show(result.problems), ['latin1.yml 3:22 error yaml/encoding'])
    assert.match(result.problems[0]?.message ?? '', /not valid UTF-8: byte 0xe9/)
    // columns count UTF-16 units, as every other position does (the emoji is two)
    writeFileSync(file, Buffer.concat([Buffer.from('# é€😀 '), Buffer.from([0xc3, 0x28])]))
    assert.deepEqual(show(createValidator().validatePipelineFile(file).problems), ['latin1.yml 1:8 error yaml/encoding'])
    // a UTF-16 file is named as such
    writeFileSync(file, Buffer.from('\ufeffname: x', 'utf16le'))
    assert.match(createValidator().validatePipelineFile(file).problems[0]?.message ?? '', /looks like UTF-16/)
  })

  it('reports a lone surrogate in pipeline text (as JSON can carry)', () => {
    const result = createValidator().validatePipelineText(path.join(work, 'sent.yml'), 'name: x\nsteps:\n  a: { run: "echo \ud800" }\n')
    assert.deepEqual(show(result.problems), ['sent.yml 3:19 error yaml/encoding'])
  })

  it('refuses a job template that is a FIFO or a device at the uses line', () => {
    const dir = project()
    execFileSync('mkfifo', [path.join(dir, 'jobstore', 'job.yml')])
    const pipeline = path.join(dir, 'pipelines', 'p.yml')
    writeFileSync(pipeline, USES)
    const result = createValidator().validatePipelineFile(pipeline)
    assert.deepEqual(show(result.problems), ['p.yml 4:11 error uses/unreadable'])
    assert.match(result.problems[0]?.message ?? '', /job template 'job' cannot be read: .*job\.yml is a FIFO \(named pipe\), not a regular file/)
    rmSync(path.join(dir, 'jobstore', 'job.yml'))
    symlinkSync('/dev/zero', path.join(dir, 'jobstore', 'job.yml'))
    assert.match(createValidator().validatePipelineFile(pipeline).problems[0]?.message ?? '', /character device/)
  })

  it('refuses a job template larger than 64 MiB, or a socket, at the uses line', async () => {
    const dir = project()
    const job = path.join(dir, 'jobstore', 'job.yml')
    writeFileSync(job, '')
    truncateSync(job, 64 * 1024 * 1024 + 1)
    const pipeline = path.join(dir, 'pipelines', 'p.yml')
    writeFileSync(pipeline, USES)
    const big = createValidator().validatePipelineFile(pipeline)
    assert.deepEqual(show(big.problems), ['p.yml 4:11 error uses/unreadable'])
    assert.match(big.problems[0]?.message ?? '', /larger than 67108864 bytes, the most bac reads as a job template/)
    rmSync(job)
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(job, resolve))
    try {
      assert.match(createValidator().validatePipelineFile(pipeline).problems[0]?.message ?? '', /job\.yml is a socket, not a regular file/)
    } finally {
      server.close()
    }
  })

  it('reports a job template in invalid UTF-8 in its own file, and at the uses line', () => {
    const dir = project()
    writeFileSync(path.join(dir, 'jobstore', 'job.yml'), Buffer.concat([Buffer.from('name: job\nrun: echo '), Buffer.from([0xff]), Buffer.from('\n')]))
    const pipeline = path.join(dir, 'pipelines', 'p.yml')
    writeFileSync(pipeline, USES)
    assert.deepEqual(show(createValidator().validatePipelineFile(pipeline).problems).sort(), ['job.yml 2:11 error yaml/encoding', 'p.yml 4:11 error uses/invalid'])
  })

  it('refuses a message schema file that is a FIFO, a device, too large or not UTF-8, at the schema line', () => {
    const dir = project()
    const pipeline = path.join(dir, 'pipelines', 'p.yml')
    writeFileSync(pipeline, SCHEMA)
    const schema = path.join(dir, 'pipelines', 'schema.json')
    const reasons: string[] = []
    execFileSync('mkfifo', [schema])
    for (const make of [
      () => undefined,
      () => { rmSync(schema); symlinkSync('/dev/zero', schema) },
      () => { rmSync(schema); writeFileSync(schema, ''); truncateSync(schema, 64 * 1024 * 1024 + 1) },
      () => { rmSync(schema); writeFileSync(schema, Buffer.from([0x7b, 0x0a, 0x20, 0x22, 0xc0, 0x22, 0x7d])) }
    ]) {
      make()
      const result = createValidator().validatePipelineFile(pipeline)
      assert.deepEqual(show(result.problems), ['p.yml 5:13 error message/schema'])
      reasons.push(result.problems[0]?.message ?? '')
    }
    assert.match(reasons[0] ?? '', /FIFO/)
    assert.match(reasons[1] ?? '', /character device/)
    assert.match(reasons[2] ?? '', /larger than 67108864 bytes, the most bac reads as a message schema/)
    assert.match(reasons[3] ?? '', /at line 2, column 3, the file is not valid UTF-8/)
  })
})

describe('the validator\'s files component', () => {
  /** A reader confined to one folder, recording what it was asked. */
  function confined (root: string): ValidatorFiles & { reads: string[], looks: string[] } {
    const files = regularFiles()
    const reads: string[] = []
    const looks: string[] = []
    return {
      reads,
      looks,
      read (file, kind) {
        reads.push(`${kind} ${path.relative(root, file)}`)
        if (!isInside(path.resolve(file), root)) throw new PathNotAllowedError(file, [root], path.dirname(file))
        return files.read(file, kind)
      },
      kind (file) {
        looks.push(path.relative(root, file))
        // outside: say a file is there, so that read refuses it where it is named
        return isInside(path.resolve(file), root) ? files.kind(file) : 'file'
      }
    }
  }

  it('reads every file through it, and a refusal is a problem where the file is named', () => {
    const dir = project()
    const root = path.join(dir, 'pipelines')
    writeFileSync(path.join(dir, 'jobstore', 'job.yml'), 'name: job\nrun: echo hi\n')
    writeFileSync(path.join(dir, 'schema.json'), '{ "type": "object" }')
    const files = confined(root)
    const text = 'name: x\non:\n  message:\n    topic: t\n    schema: ../schema.json\ninputs:\n  f: { type: file, default: ../secret.txt }\nsteps:\n  a:\n    uses: ../jobstore/job\n'
    const result = createValidator({ files }).validatePipelineText(path.join(root, 'sent.yml'), text)
    assert.deepEqual(show(result.problems), ['sent.yml 5:13 error message/schema', 'sent.yml 10:11 error uses/unreadable'])
    for (const problem of result.problems) assert.match(problem.message, /is outside the folders this node allows/)
    assert.deepEqual(files.reads, ['message schema ../schema.json', 'job template ../jobstore/job.yml'])
    // the file default's existence and the uses candidates were asked of it, not of the disk
    assert.ok(files.looks.includes('../secret.txt') && files.looks.includes('../jobstore/job.yml'), files.looks.join(', '))
  })

  it('validates what it allows as usual, and throws its refusal of the file being validated', () => {
    const dir = project()
    const root = path.join(dir, 'pipelines')
    writeFileSync(path.join(root, 'job.yml'), 'name: job\nrun: echo hi\n')
    writeFileSync(path.join(root, 'p.yml'), 'name: x\nsteps:\n  a:\n    uses: job\n')
    writeFileSync(path.join(dir, 'outside.yml'), 'name: x\nsteps:\n  a: { run: echo hi }\n')
    const files = confined(root)
    const validator = createValidator({ files })
    const result = validator.validatePipelineFile(path.join(root, 'p.yml'))
    assert.deepEqual(result.problems, [])
    assert.equal(result.value?.steps.a?.uses?.template.name, 'job')
    assert.throws(() => validator.validatePipelineFile(path.join(dir, 'outside.yml')), PathNotAllowedError)
  })
})
