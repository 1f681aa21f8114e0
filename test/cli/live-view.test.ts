import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { LiveView } from '../../src/cli/live-view.js'

/** Just enough of a terminal: text, newlines, cursor to the start of an earlier line, erase below. */
class Screen {
  lines: string[] = ['']
  row = 0
  write (text: string): void {
    const pattern = /\u001b\[(\d*)([A-Za-z])|\n|[^\u001b\n]+/g
    for (const match of text.matchAll(pattern)) {
      const token = match[0]
      if (token === '\n') {
        this.row++
        if (this.lines[this.row] === undefined) this.lines[this.row] = ''
      } else if (match[2] === 'F') {
        this.row = Math.max(0, this.row - Number(match[1] === '' ? 1 : match[1]))
      } else if (match[2] === 'J') {
        this.lines = this.lines.slice(0, this.row + 1)
        this.lines[this.row] = ''
      } else if (match[2] === 'm') {
        // colors: not part of the text
      } else {
        this.lines[this.row] = (this.lines[this.row] ?? '') + token
      }
    }
  }

  get text (): string[] {
    return this.lines.filter((l, i) => i < this.lines.length - 1 || l !== '')
  }
}

describe('live view', () => {
  it('keeps one line per step, redrawn in place, with output scrolling above', () => {
    const screen = new Screen()
    const view = new LiveView({ out: () => {}, err: (t) => screen.write(t), colors: true, interactive: true })
    view.onEvent({ type: 'run:start', runId: 'r1', pipeline: 'demo', steps: ['extract', 'aggregate'] })
    assert.deepEqual(screen.text, ['run r1: demo', '  · extract    waiting', '  · aggregate  waiting'])
    view.onEvent({ type: 'step:start', runId: 'r1', stepId: 'extract', attempt: 1, executor: 'process' })
    view.onEvent({ type: 'step:log', runId: 'r1', stepId: 'extract', stream: 'stdout', text: 'first line\nsecond ' })
    view.onEvent({ type: 'step:log', runId: 'r1', stepId: 'extract', stream: 'stdout', text: 'line\n' })
    assert.equal(screen.text[1], 'extract | first line')
    assert.equal(screen.text[2], 'extract | second line')
    assert.match(screen.text[3] ?? '', /^ {2}\S extract {4}running \d+ms {2}process$/)
    view.onEvent({ type: 'step:end', runId: 'r1', stepId: 'extract', status: 'succeeded', durationMs: 420 })
    view.onEvent({ type: 'step:end', runId: 'r1', stepId: 'aggregate', status: 'failed', durationMs: 1500, reason: 'exited with code 2' })
    view.onEvent({ type: 'run:end', runId: 'r1', status: 'failed', durationMs: 1900, reason: "step 'aggregate' failed" })
    assert.deepEqual(screen.text, [
      'run r1: demo',
      'extract | first line',
      'extract | second line',
      '  ✓ extract    succeeded 420ms',
      '  ✗ aggregate  failed 1.5s  exited with code 2',
      "run r1 failed in 1.9s: step 'aggregate' failed"
    ])
  })
})
