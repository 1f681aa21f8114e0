import path from 'node:path'
import type { InputSpec, Pipeline } from '../interfaces/pipeline.js'

export interface SubmittedJob {
  /** The CIDs the command reads at `/ipfs/<cid>`. */
  readonly cids: readonly string[]
  /** A shell command, the user's own: inserted as it is, never read as a template. */
  readonly command: string
  /** The folder the job is submitted from (its outputs go to `<cwd>/outputs/<run-id>/`). */
  readonly cwd: string
}

/**
 * The pipeline `bac job submit` runs, as the seed's `submit` did: one step in the sandbox, each
 * CID at `/ipfs/<cid>` as a private writable copy (kept in the outputs as `ipfs/<cid>`).
 */
export function submittedJob (job: SubmittedJob): Pipeline {
  const inputs: Record<string, InputSpec> = {
    command: { name: 'command', type: 'string', required: false, default: job.command },
    ...Object.fromEntries(job.cids.map((cid, i) => [`cid${i}`, { name: `cid${i}`, type: 'cid', required: false, default: cid } satisfies InputSpec]))
  }
  return {
    file: path.join(job.cwd, 'submitted-job'),
    name: 'job',
    on: { manual: true },
    inputs,
    env: {},
    steps: {
      job: {
        id: 'job',
        needs: [],
        // the command is inserted raw: it is the user's own shell text, like a `run:` they wrote
        action: { kind: 'run', run: '{{{ inputs.command }}}', shell: 'sh' },
        executor: 'sandbox',
        inputs: {},
        outputs: {},
        nodes: 1,
        runsOn: [],
        retries: { attempts: 1, backoffMs: 1000, factor: 2 },
        env: {},
        merge: 'merged',
        writableCids: true
      }
    },
    order: ['job'],
    summary: job.command
  }
}
