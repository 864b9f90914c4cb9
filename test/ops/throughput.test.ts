import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Throughput } from '../../src/ops/throughput.js'

test('throughput: a steady 100 docs/s reads 100; an idle stretch reads 0; a young run is measured over its own age', () => {
  let now = 1_000_000_000_000
  const tp = new Throughput(900, () => now)
  // 3 s into a run at 100 docs/s (10 docs every 100 ms): not 30 docs/s over a 10 s window.
  for (let i = 0; i < 30; i++) {
    tp.add(10)
    now += 100
  }
  const young = tp.series().at(-1)?.rate ?? 0
  assert.ok(Math.abs(young - 100) < 20, `young run: ${young}`)
  for (let i = 0; i < 300; i++) {
    tp.add(10)
    now += 100
  }
  const steady = tp.series()
  assert.ok(Math.abs((steady.at(-1)?.rate ?? 0) - 100) < 10, `steady: ${steady.at(-1)?.rate}`)
  assert.ok(steady.length > 10, 'a point every 2 s over the run')
  for (let i = 1; i < steady.length; i++) {
    assert.equal((steady[i]?.t ?? 0) - (steady[i - 1]?.t ?? 0), 2000, 'points 2 s apart, oldest first')
  }
  now += 20_000
  assert.equal(tp.series().at(-1)?.rate, 0, 'idle for 20 s: 0 docs/s, not an average over the run')
  now += 2_000_000
  tp.add(5)
  assert.ok(
    tp.series().every((p) => p.t <= now),
    'nothing from the future after the ring wrapped',
  )
})
