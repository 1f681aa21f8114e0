import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { loadNodeKey } from '../../src/common/node-key.js'
import { bac } from '../helpers/cli.js'
import { ROOT } from '../helpers/paths.js'

const work = mkdtempSync(path.join(tmpdir(), 'bac-provenance-'))
after(() => rmSync(work, { recursive: true, force: true }))
const home = path.join(work, 'home')
const env = { BAC_HOME: home }
const project = path.join(work, 'project')

type Descriptor = { name?: string, uri?: string, digest?: Record<string, string>, annotations?: Record<string, unknown> }
interface Statement {
  _type: string
  subject: Descriptor[]
  predicateType: string
  predicate: {
    buildDefinition: { buildType: string, externalParameters: { inputs: Record<string, unknown>, pipeline: { path: string } }, resolvedDependencies: Descriptor[] }
    runDetails: { builder: { id: string }, metadata: { invocationId: string }, byproducts: Descriptor[] }
  }
}
interface Envelope { payloadType: string, payload: string, signatures: Array<{ keyid: string, sig: string }> }

const git = (...args: string[]): string => execFileSync('git', ['-C', project, ...args], {
  encoding: 'utf8',
  env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' }
}).trim()
const run = (file: string, ...args: string[]): { cid: string, runId: string } => {
  const r = bac(['run', file, '--outputs', path.join(work, 'outputs'), ...args], { cwd: project, env })
  assert.equal(r.code, 0, r.stderr)
  const list = JSON.parse(bac(['job', 'list', '--json', '-n', '1'], { env }).stdout) as Array<{ id: string }>
  return { cid: r.stdout.trim(), runId: list[0]?.id ?? '' }
}
const envelopeOf = (ref: string): Envelope => JSON.parse(bac(['provenance', ref, '--envelope'], { env }).stdout) as Envelope
const statementOf = (envelope: Envelope): Statement => JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as Statement
const rootDigest = (cid: string): string => Buffer.from(CID.parse(cid).multihash.digest).toString('hex')
const write = (name: string, value: unknown): string => {
  const file = path.join(work, name)
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value))
  return file
}

describe('provenance: a signed record of every run, and bac verify', () => {
  let demo: { cid: string, runId: string }
  before(() => {
    mkdirSync(path.join(project, 'pipelines'), { recursive: true })
    cpSync(path.join(ROOT, 'jobstore'), path.join(project, 'jobstore'), { recursive: true })
    cpSync(path.join(ROOT, 'scripts'), path.join(project, 'scripts'), { recursive: true })
    cpSync(path.join(ROOT, 'pipelines', 'sales-report.yml'), path.join(project, 'pipelines', 'sales-report.yml'))
    cpSync(path.join(ROOT, 'pipelines', 'data'), path.join(project, 'pipelines', 'data'), { recursive: true })
    git('init', '-q')
    git('add', '.')
    git('commit', '-q', '-m', 'pipelines')
    demo = run('pipelines/sales-report.yml')
  })

  it('records how the result was made: in-toto statement, SLSA provenance, signed by the node\'s key', () => {
    const envelope = envelopeOf(demo.runId)
    assert.equal(envelope.payloadType, 'application/vnd.in-toto+json')
    const peerId = loadNodeKey(home).keyId
    assert.deepEqual(envelope.signatures.map((s) => s.keyid), [peerId])
    const st = statementOf(envelope)
    assert.equal(st._type, 'https://in-toto.io/Statement/v1')
    assert.equal(st.predicateType, 'https://slsa.dev/provenance/v1')
    assert.deepEqual(st.subject, [{ name: 'result', uri: `ipfs://${demo.cid}`, digest: { sha256: rootDigest(demo.cid) } }])
    const p = st.predicate
    assert.equal(p.runDetails.builder.id, `urn:bac:node:${peerId}`)
    assert.equal(p.runDetails.metadata.invocationId, demo.runId)
    const deps = Object.fromEntries(p.buildDefinition.resolvedDependencies.map((d) => [d.name, d]))
    const pipelineFile = path.join(project, 'pipelines', 'sales-report.yml')
    assert.equal(deps.pipeline?.digest?.sha256, createHash('sha256').update(readFileSync(pipelineFile)).digest('hex'))
    assert.equal(deps['jobstore/extract']?.digest?.sha256, createHash('sha256').update(readFileSync(path.join(project, 'jobstore', 'extract.yml'))).digest('hex'))
    assert.deepEqual(deps.git?.digest, { gitCommit: git('rev-parse', 'HEAD') })
    assert.equal(deps.git?.annotations?.dirty, false)
    assert.match(String(deps['inputs.archive']?.uri), /^ipfs:\/\/Qm/)
    // the stored pipeline text is the file's: its CID reads back the same bytes
    assert.equal(bac(['ipfs', 'cat', String(deps.pipeline?.annotations?.cid)], { env }).stdout, readFileSync(pipelineFile, 'utf8'))
    const attempts = p.runDetails.byproducts.filter((b) => b.name?.startsWith('attempt:'))
    assert.deepEqual(attempts.map((a) => a.name), ['attempt:extract#1', 'attempt:aggregate#1'])
    for (const a of attempts) {
      assert.equal(a.annotations?.exitCode, 0)
      assert.equal(a.annotations?.node, peerId)
      assert.equal(a.annotations?.executor, 'process')
      assert.match(JSON.stringify(a.annotations?.command), /python3 <run>\/work\/ipfs\/Qm/)
      assert.match(String(a.annotations?.key), /^[0-9a-f]{64}$/)
      assert.ok(Date.parse(String(a.annotations?.finishedOn)) >= Date.parse(String(a.annotations?.startedOn)))
    }
    // the record is in the run store and the content store, under the CID job describe shows
    const described = bac(['job', 'describe', demo.runId], { env }).stdout
    const recordCid = /record: +(Qm\w+)/.exec(described)?.[1] ?? ''
    assert.equal(bac(['ipfs', 'cat', recordCid], { env }).stdout.trim(), JSON.stringify(envelope))
    assert.deepEqual(envelopeOf(recordCid), envelope, 'found by its own CID too')
    assert.deepEqual(envelopeOf(demo.cid), envelopeOf(JSON.parse(bac(['job', 'list', '--json', '--cid', demo.cid, '-n', '1'], { env }).stdout)[0].id), 'and by the result CID: its newest run')
  })

  it('records the step a cached run did not run, the run it came from, and a dirty work tree', () => {
    writeFileSync(path.join(project, 'jobstore', 'extract.yml'), `${readFileSync(path.join(project, 'jobstore', 'extract.yml'), 'utf8')}\n# changed\n`)
    const cached = run('pipelines/sales-report.yml')
    assert.equal(cached.cid, demo.cid)
    const p = statementOf(envelopeOf(cached.runId)).predicate
    assert.equal(p.buildDefinition.resolvedDependencies.find((d) => d.name === 'git')?.annotations?.dirty, true)
    const from = p.runDetails.byproducts.filter((b) => b.name?.startsWith('cached:'))
    assert.deepEqual(from.map((b) => [b.name, b.annotations?.cachedFrom]), [['cached:extract', demo.runId], ['cached:aggregate', demo.runId]])
    assert.equal(p.runDetails.byproducts.filter((b) => b.name?.startsWith('attempt:')).length, 0)
    git('checkout', '--', 'jobstore/extract.yml')
  })

  it('verifies a result: exit 0 with what it checked; and --rerun gives the same CID again', () => {
    const ok = bac(['verify', demo.cid], { env })
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(ok.stdout, `verified ${demo.cid}\n`)
    assert.match(ok.stderr, /ok {2}the record's 4 step folders make Qm\w+ again/)
    // the newest run of the CID ran with an edited template: the first run's record is the one to run again
    const record = write('demo.json', envelopeOf(demo.runId))
    const rerun = bac(['verify', demo.cid, '--rerun', '--record', record], { env })
    assert.equal(rerun.code, 0, rerun.stderr)
    assert.match(rerun.stderr, /run again as \w+: the same CID/)
  })

  it('refuses a record that was changed, signed by another key, or is of another result: exit 1 with the reason', () => {
    const envelope = envelopeOf(demo.runId)
    const st = statementOf(envelope)
    // an attempt said to have exited 0 that did not, say: any change to the payload breaks the signature
    const changed = structuredClone(st)
    const attempt = changed.predicate.runDetails.byproducts.find((b) => b.name === 'attempt:extract#1')
    if (attempt?.annotations !== undefined) attempt.annotations.exitCode = 3
    const tampered = bac(['verify', demo.cid, '--record', write('tampered.json', { ...envelope, payload: Buffer.from(JSON.stringify(changed)).toString('base64') })], { env })
    assert.equal(tampered.code, 1)
    assert.match(tampered.stdout, /^not verified Qm\w+: the record: the signature by 12D3KooW\w+ does not verify/)
    // signed again by a key this node does not trust (a fresh node's), with that node's builder id
    mkdirSync(path.join(work, 'other'))
    const other = loadNodeKey(path.join(work, 'other'))
    const forged = structuredClone(st)
    forged.predicate.runDetails.builder.id = `urn:bac:node:${other.keyId}`
    for (const b of forged.predicate.runDetails.byproducts) if (b.annotations?.node !== undefined) b.annotations.node = other.keyId
    const payload = Buffer.from(JSON.stringify(forged))
    const pae = Buffer.concat([Buffer.from(`DSSEv1 ${envelope.payloadType.length} ${envelope.payloadType} ${payload.length} `), payload])
    const resigned = { payloadType: envelope.payloadType, payload: payload.toString('base64'), signatures: [{ keyid: other.keyId, sig: Buffer.from(other.sign(pae)).toString('base64') }] }
    const stranger = bac(['verify', demo.cid, '--record', write('stranger.json', resigned)], { env })
    assert.equal(stranger.code, 1)
    assert.match(stranger.stdout, new RegExp(`signed by ${other.keyId}, which this node does not trust`))
    // the same record, once that key is trusted, verifies: the signature itself was good
    assert.equal(bac(['verify', demo.cid, '--record', write('stranger.json', resigned), '--trust', other.keyId], { env }).code, 0)
    // a good record of another CID
    const another = 'QmW1rNrbjdKPb9Q7P9f59nfeSJUCSt5bB5Gac81kbX1MKi'
    const wrong = bac(['verify', another, '--record', write('good.json', envelope)], { env })
    assert.equal(wrong.code, 1)
    assert.match(wrong.stdout, new RegExp(`the record is of ipfs://${demo.cid}, not of ${another}`))
  })

  it('answers bad input with one line: no record, not a CID, not an envelope, a device or FIFO as the record', () => {
    const none = bac(['verify', 'QmW1rNrbjdKPb9Q7P9f59nfeSJUCSt5bB5Gac81kbX1MKi'], { env })
    assert.equal(none.code, 1)
    assert.match(none.stderr, /^bac: no provenance record of Qm\w+ here/)
    assert.equal(bac(['verify', 'not-a-cid'], { env }).code, 2)
    const notJson = bac(['verify', demo.cid, '--record', write('junk.json', 'junk')], { env })
    assert.equal(notJson.code, 1)
    assert.match(notJson.stderr, /^bac: not a DSSE envelope: not JSON/)
    const shape = bac(['verify', demo.cid, '--record', write('shape.json', { payload: 1 })], { env })
    assert.match(shape.stderr, /^bac: not a DSSE envelope: it needs payloadType, payload and signatures\n$/)
    const fifo = path.join(work, 'fifo')
    execFileSync('mkfifo', [fifo])
    for (const device of ['/dev/zero', fifo]) {
      const r = bac(['verify', demo.cid, '--record', device], { env })
      assert.equal(r.code, 1, device)
      assert.doesNotMatch(r.stderr, /internal error/)
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    }
    const missing = bac(['provenance', 'nosuchrun'], { env })
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /no run has this id/)
  })

  it('answers a malformed record signed by a trusted key with the reason, never an internal error', () => {
    const own = loadNodeKey(home)
    const sign = (statement: unknown): string => {
      const payload = Buffer.from(JSON.stringify(statement))
      const type = 'application/vnd.in-toto+json'
      const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${payload.length} `), payload])
      return write('malformed.json', { payloadType: type, payload: payload.toString('base64'), signatures: [{ keyid: own.keyId, sig: Buffer.from(own.sign(pae)).toString('base64') }] })
    }
    const st = statementOf(envelopeOf(demo.runId))
    const deep = (n: number): unknown => n === 0 ? 'x' : { a: deep(n - 1) }
    const cases: unknown[] = [
      { ...st, predicate: null },
      { ...st, subject: [null] },
      { ...st, predicate: { ...st.predicate, runDetails: { ...st.predicate.runDetails, byproducts: 'none' } } },
      { ...st, predicate: { ...st.predicate, runDetails: { ...st.predicate.runDetails, byproducts: [null, 3, { name: deep(40) }] } } },
      { ...st, predicate: { ...st.predicate, runDetails: null } },
      deep(200)
    ]
    for (const c of cases) {
      const r = bac(['verify', demo.cid, '--record', sign(c)], { env })
      assert.equal(r.code, 1, JSON.stringify(c).slice(0, 200))
      assert.doesNotMatch(r.stderr + r.stdout, /internal error/)
      assert.match(r.stdout, /^not verified/)
    }
  })

  it('--rerun runs only what the record pins: a file input must come as a CID in the store, never a path', () => {
    const own = loadNodeKey(home)
    const st = statementOf(envelopeOf(demo.runId))
    const forged = structuredClone(st)
    forged.predicate.buildDefinition.externalParameters.inputs.archive = '/etc/passwd'
    const payload = Buffer.from(JSON.stringify(forged))
    const type = 'application/vnd.in-toto+json'
    const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${payload.length} `), payload])
    const file = write('path-input.json', { payloadType: type, payload: payload.toString('base64'), signatures: [{ keyid: own.keyId, sig: Buffer.from(own.sign(pae)).toString('base64') }] })
    const r = bac(['verify', demo.cid, '--rerun', '--record', file], { env })
    assert.equal(r.code, 1)
    assert.match(r.stderr, /the record gives input 'archive' as no CID/)
  })

  it('records the text a run was made from: a pipeline given as text names the file it stands for, and says it is not that file', async () => {
    const { openNode, createValidator } = await import('../../src/index.js')
    const file = path.join(project, 'pipelines', 'sales-report.yml')
    const text = 'name: sales-report\nsteps:\n  other:\n    run: echo other > {{ outputs.path }}/o.txt\n'
    const pipeline = createValidator().validatePipelineText(file, text).value
    assert.ok(pipeline !== undefined)
    const node = await openNode({ dataDir: home })
    try {
      const outcome = await node.run(pipeline, { outputsDir: null })
      assert.equal(outcome.status, 'succeeded', outcome.reason)
      const st = statementOf(JSON.parse(node.runs.provenance(outcome.runId) ?? '{}') as Envelope)
      const dep = st.predicate.buildDefinition.resolvedDependencies.find((d) => d.name === 'pipeline')
      assert.equal(dep?.digest?.sha256, createHash('sha256').update(text).digest('hex'))
      assert.equal(dep?.annotations?.notTheFile, true)
      assert.equal(st.predicate.buildDefinition.resolvedDependencies.some((d) => d.name === 'git'), false, 'no commit is claimed for a text that is not the file')
    } finally {
      await node.close()
    }
  })

  it('--rerun says so when the pipeline file changed since the run', () => {
    const file = path.join(project, 'pipelines', 'sales-report.yml')
    const text = readFileSync(file, 'utf8')
    writeFileSync(file, `${text}\n# edited\n`)
    try {
      const r = bac(['verify', demo.cid, '--rerun', '--record', write('demo.json', envelopeOf(demo.runId))], { env })
      assert.equal(r.code, 1)
      assert.match(r.stderr, /sales-report\.yml has changed since the run/)
    } finally {
      writeFileSync(file, text)
    }
  })

  it('renders {{ run.node }} as the peer id of the node running the step', () => {
    writeFileSync(path.join(project, 'pipelines', 'where.yml'), 'name: where\nsteps:\n  where:\n    run: echo "{{ run.node }}" > {{ outputs.path }}/node.txt\n')
    const { runId } = run('pipelines/where.yml')
    assert.equal(readFileSync(path.join(work, 'outputs', runId, 'where', 'merged', 'node.txt'), 'utf8').trim(), loadNodeKey(home).keyId)
  })
})
