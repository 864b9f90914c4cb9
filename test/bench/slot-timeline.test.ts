import assert from 'node:assert/strict'
import { test } from 'node:test'
import { slotBreakdown } from '../../bench/slot-timeline.js'
import { startMockGpu } from '../../scripts/mock-gpu.js'
import { makeDocs } from '../helpers.js'

test('idle slot time splits into the ramp, the hand-overs and the tail', () => {
  // Capacity 2. One slot idle 0-5 (the ramp), 10-12 and 15-16 (hand-overs), 20-25 (the tail).
  const b = slotBreakdown(
    {
      calls: [
        [0, 10],
        [5, 15],
        [12, 20],
        [16, 25],
      ],
      refused: [],
    },
    2,
  )
  assert.equal(b.firstFullMs, 5)
  assert.equal(b.busy, 37 / 50)
  assert.equal(b.rampIdle, 5 / 50)
  assert.equal(b.handoverIdle, 3 / 50)
  assert.equal(b.tailIdle, 5 / 50)
  assert.equal(b.handoverMedianMs, 2)
  assert.equal(b.handoverP90Ms, 2)
})

test('a service never full has no ramp: its idle time before the last start counts as between calls', () => {
  const b = slotBreakdown(
    {
      calls: [
        [0, 10],
        [12, 20],
      ],
      refused: [],
    },
    2,
  )
  assert.equal(b.firstFullMs, null)
  assert.equal(b.rampIdle, 0)
  assert.equal(b.handoverIdle, 14 / 40)
  assert.equal(b.tailIdle, 8 / 40)
  assert.equal(b.handoverMedianMs, null)
})

test('the mock keeps a timeline of its calls and refusals only when asked', async (t) => {
  const gpu = await startMockGpu({ capacity: 1, callMs: 30, timeline: true })
  t.after(() => gpu.close())
  const call = () =>
    fetch(gpu.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data_list: makeDocs(2) }),
    }).then(
      (r) => r.status,
      () => 'reset',
    )
  const outcomes = await Promise.all([call(), call()])
  assert.deepEqual([...outcomes].sort(), [200, 'reset'])
  const tl = gpu.stats().timeline
  assert.ok(tl, 'a timeline in the stats')
  assert.equal(tl.calls.length, 1)
  const [began, ended] = tl.calls[0] as [number, number]
  assert.equal(began, 0)
  assert.ok(ended >= 29, `the call held its slot for ${ended} ms`)
  assert.equal(tl.refused.length, 1)
  const plain = await startMockGpu({ capacity: 1, callMs: 1 })
  t.after(() => plain.close())
  assert.equal(plain.stats().timeline, undefined)
})
