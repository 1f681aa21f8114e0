import {
  cidAlone, envelopeBody, findRecord, printable, recordFrom, rerunRecord, trustedKeys, UsageError, verifyResult,
  type Envelope, type Provenance, type Statement
} from '../../index.js'
import { EXIT } from '../exit.js'
import type { Io } from '../io.js'
import { cancellable, withBacNode, withNode, type NodeOptions } from '../node-session.js'

export interface ProvenanceOptions extends NodeOptions { envelope?: boolean }

/**
 * `bac provenance <run-id|cid>`: the signed record of a run (or of the run that produced a
 * result CID): the in-toto statement, or with `--envelope` the DSSE envelope as stored, which
 * another node checks with `bac verify --record`. A run id is asked of the node the command acts
 * on (`--node`, `$BAC_NODE`, the node serving on the data dir, else the data dir); a CID is
 * looked up in the data dir's own runs and store.
 */
export async function provenanceCommand (ref: string, options: ProvenanceOptions, io: Io): Promise<number> {
  const print = (envelope: Envelope): void => { io.out(options.envelope === true ? `${JSON.stringify(envelope)}\n` : `${JSON.stringify(envelopeBody(envelope), null, 2)}\n`) }
  if (cidAlone(ref) === undefined) {
    return await withBacNode(options, async (node) => {
      const envelope = await node.provenance(ref)
      print(envelope)
      io.err(`record of run ${printable(ref, 80)} on ${node.where}, signed by ${envelope.signatures.map((s) => printable(s.keyid, 100)).join(', ')}\n`)
      return EXIT.ok
    })
  }
  return await withNode(options, async (node) => {
    const found = await findRecord(node, ref)
    print(found.envelope)
    io.err(`record${found.cid !== undefined ? ` ${found.cid}` : ''}${found.runId !== undefined ? ` of run ${found.runId}` : ''}, ` +
      `signed by ${found.envelope.signatures.map((s) => printable(s.keyid, 100)).join(', ')}\n`)
    return EXIT.ok
  })
}

export interface VerifyCommandOptions { dataDir?: string, ipfsApi?: string, record?: string, trust?: string[], rerun?: boolean, json?: boolean }

/**
 * `bac verify <result-cid>`: finds the result's record (this node's, or `--record <file|cid>`),
 * checks its signatures against this node's key and its trusted peers', the peers' attestations
 * of the steps they ran, and that the recorded step outputs make the result again; with
 * `--rerun`, runs the pipeline again and compares the CID. Exit 0 when it holds, 1 when not.
 */
export async function verifyCommand (resultCid: string, options: VerifyCommandOptions, io: Io): Promise<number> {
  const cid = cidAlone(resultCid)
  if (cid === undefined) throw new UsageError(`bac verify takes a result CID, got '${printable(resultCid, 80)}'`)
  return await withNode(options, async (node) => {
    const record = options.record !== undefined ? await recordFrom(node, options.record) : undefined
    const verification = await verifyResult(node, cid, { trusted: trustedKeys(node.dataDir, options.trust ?? []), ...(record !== undefined ? { record } : {}) })
    let rerun: Awaited<ReturnType<typeof rerunRecord>> | undefined
    if (options.rerun === true && verification.ok && verification.statement !== undefined) {
      const statement: Statement<Provenance> = verification.statement
      rerun = await cancellable(io, async (signal) => await rerunRecord(node, statement, cid, signal))
    }
    const ok = verification.ok && (rerun === undefined || rerun.ok)
    if (options.json === true) {
      io.out(`${JSON.stringify({
        ok,
        cid,
        problems: verification.problems,
        checked: verification.checked,
        ...(verification.record.cid !== undefined ? { record: verification.record.cid } : {}),
        ...(rerun !== undefined ? { rerun } : {})
      }, null, 2)}\n`)
    } else {
      for (const line of verification.checked) io.err(`  ok  ${printable(line, 400)}\n`)
      for (const line of verification.problems) io.err(`  bad ${printable(line, 400)}\n`)
      if (rerun !== undefined) io.err(rerun.ok ? `  ok  run again as ${rerun.runId ?? ''}: the same CID\n` : `  bad ${printable(rerun.reason ?? '', 400)}\n`)
      io.out(ok ? `verified ${cid}\n` : `not verified ${cid}: ${printable(verification.problems[0] ?? rerun?.reason ?? '', 400)}\n`)
    }
    return ok ? EXIT.ok : EXIT.failed
  })
}
