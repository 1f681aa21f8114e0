// The unit most benches time: a bare spawn of `true` (the baseline), and one attempt of `true`
// through an executor, each in a fresh folder under `work`.
import { spawn } from 'node:child_process'
import path from 'node:path'

export const bareSpawn = () => new Promise((resolve, reject) => {
  const child = spawn('true', [], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.on('error', reject)
  child.on('close', resolve)
})

let n = 0
/**
 * A function running one attempt of `true` on `executor`, reading `inputs` (name to host path); it
 * throws unless the attempt exits 0.
 */
export const trivialStep = (executor, work, inputs = {}) => async () => {
  const dir = path.join(work, String(n++))
  const r = await executor.execute({
    action: { kind: 'command', command: 'true', args: [] },
    env: {},
    inputs,
    outputsDir: path.join(dir, 'outputs'),
    workDir: path.join(dir, 'work'),
    logsDir: path.join(dir, 'logs')
  })
  if (r.exitCode !== 0) throw new Error(`attempt failed: ${JSON.stringify(r)}`)
}
