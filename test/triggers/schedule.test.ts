import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Project, until } from './helpers.js'

describe('schedules', () => {
  const p = new Project()
  const second = new Project()
  after(async () => { await second.close(); await p.close() })

  it('fires on its cron, once per fire time, even with two nodes on one data dir and a restart', async () => {
    const pipeline = p.pipeline('tick', `name: tick
on:
  schedule: { cron: "* * * * * *" }
steps:
  tick:
    run: echo {{ trigger.time }}
`)
    await p.start([pipeline])
    // a second node on the same data dir fires the same schedule: the ledger lets one of them take each second
    await second.start([pipeline], { dataDir: p.dataDir })
    await until(() => p.runs().filter((r) => r.status === 'succeeded').length >= 2, 'two fires')
    await p.stop()
    await p.start([pipeline])
    const count = p.runs().length
    await until(() => p.runs().length >= count + 1, 'a fire after the restart')
    await second.stop()
    await p.node?.idle()
    await p.stop()
    await p.start([])
    const times = p.runs().map((r) => String(r.trigger.time))
    assert.ok(times.length >= 3)
    assert.equal(new Set(times).size, times.length, `each fire time ran once: ${times.join(' ')}`)
    for (const time of times) assert.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/)
    assert.ok(p.runs().every((r) => r.trigger.kind === 'schedule'))
  })
})
