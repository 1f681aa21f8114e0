import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseEnvelope } from '../../src/common/dsse.js'
import { taskResultProblem } from '../../src/network/dispatch.js'

const ok = {
  result: { exitCode: 0, signal: null, timedOut: false, cancelled: false, durationMs: 3, stdoutBytes: 0, stderrBytes: 0, logTruncated: false, outputBytes: 1 },
  outputsCid: 'QmW1rNrbjdKPb9Q7P9f59nfeSJUCSt5bB5Gac81kbX1MKi',
  key: 'a'.repeat(64)
}

describe('what a peer answers is checked before it is used', () => {
  it('takes a task result as bac gives it, and names what is wrong with one that is not', () => {
    assert.equal(taskResultProblem(ok), undefined)
    const bad: Array<[unknown, RegExp]> = [
      [null, /not an object/],
      [{ ...ok, result: null }, /no result/],
      [{ ...ok, result: { ...ok.result, exitCode: 'x' } }, /exit code/],
      [{ ...ok, outputsCid: 'QmW1rNrbjdKPb9Q7P9f59nfeSJUCSt5bB5Gac81kbX1MKi/x' }, /CID alone/],
      [{ ...ok, outputsCid: { length: 1 } }, /CID alone/],
      [{ ...ok, key: { toString: 1 } }, /memo key/],
      [{ ...ok, machine: 'x'.repeat(5000) }, /machine/],
      [{ ...ok, reason: 'r'.repeat(70_000) }, /reason/],
      [{ ...ok, command: 'c'.repeat(2_000_000) }, /command/],
      [{ ...ok, attestation: 'sig' }, /attestation/]
    ]
    for (const [value, why] of bad) assert.match(taskResultProblem(value) ?? 'accepted', why)
  })

  it('reads no envelope whose payload is not text, or whose signatures are too many or too long', () => {
    // a payload that claims a length: Buffer.from would allocate it
    assert.throws(() => parseEnvelope({ payloadType: 't', payload: { length: 500_000_000 }, signatures: [] }), /needs payloadType, payload and signatures/)
    assert.throws(() => parseEnvelope({ payloadType: 't', payload: '', signatures: Array.from({ length: 17 }, () => ({ keyid: 'k', sig: 's' })) }), /more than 16 signatures/)
    assert.throws(() => parseEnvelope({ payloadType: 't', payload: '', signatures: [{ keyid: 'k'.repeat(300), sig: 's' }] }), /longer than any is/)
    assert.throws(() => parseEnvelope('['.repeat(100_000)), /not JSON/)
    assert.deepEqual(parseEnvelope({ payloadType: 't', payload: '', signatures: [{ keyid: 'k', sig: 's', extra: 1 }] }).signatures, [{ keyid: 'k', sig: 's' }])
  })
})
