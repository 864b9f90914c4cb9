import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RecognizeError } from '../../src/core/errors.js'
import { GpuCap } from '../../src/recognize/gpu-cap.js'

const never = new AbortController().signal
const overload = (retryAfterMs?: number) =>
  new RecognizeError('over capacity', {
    retryable: true,
    overload: true,
    ...(retryAfterMs ? { retryAfterMs } : {}),
  })
const failure = () => new RecognizeError('500', { retryable: true, status: 500 })
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * A service that serves `capacity` calls at once for `ms` and refuses the rest, the refusal
 * reaching the caller `refuseMs` later (a reset sent once the request has been read).
 */
function service(capacity: number, ms: number, refuseMs = 0) {
  let active = 0
  let maxActive = 0
  return {
    get maxActive() {
      return maxActive
    },
    /** Another box stops using the service, say: it takes more at once from now on. */
    set capacity(n: number) {
      capacity = n
    },
    async call(): Promise<string> {
      if (active >= capacity) {
        if (refuseMs > 0) await wait(refuseMs)
        throw overload()
      }
      active++
      maxActive = Math.max(maxActive, active)
      await wait(ms)
      active--
      return 'ok'
    },
  }
}

test('one burst of refusals lowers the limit to what the service took', async () => {
  const cap = new GpuCap({ max: 16 })
  const svc = service(3, 30)
  const results = await Promise.allSettled(Array.from({ length: 16 }, () => cap.run(() => svc.call(), never)))
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3)
  const s = cap.snapshot()
  assert.equal(s.limit, 3)
  assert.equal(s.overloads, 13)
  assert.equal(s.circuit, 'closed', 'refusals the cap can answer by lowering do not open the circuit')
})

test('after lowering, the cap keeps calls within the capacity and probes upwards one step at a time', async () => {
  const cap = new GpuCap({ max: 8, increaseEveryMs: 20 })
  const svc = service(4, 5)
  // Calls that fail are retried, as the pipeline does; a call refused 50 times in a row fails the test.
  const one = async () => {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        return await cap.run(() => svc.call(), never)
      } catch {}
    }
    throw new Error('a call was refused 50 times in a row: the cap never settled')
  }
  await Promise.all(Array.from({ length: 200 }, one))
  const s = cap.snapshot()
  assert.ok(s.limit >= 3 && s.limit <= 5, `limit ${s.limit} stays near the capacity of 4`)
  assert.ok(s.overloads < 60, `${s.overloads} refusals for 200 calls`)
})

test('a limit the cap starts at (remembered from an earlier run) gets a full period before the first probe above it', async () => {
  // An earlier run learned the capacity of 4: probing at the first success costs a refusal at every start.
  const cap = new GpuCap({ max: 16, start: 4, increaseEveryMs: 60_000 })
  const svc = service(4, 5)
  await Promise.all(Array.from({ length: 40 }, () => cap.run(() => svc.call(), never)))
  const s = cap.snapshot()
  assert.equal(s.overloads, 0, `${s.overloads} calls refused`)
  assert.equal(s.limit, 4)
})

/**
 * `n` calls through the cap from 16 callers (as 16 worker loops would), each retried until it
 * goes through, as the pipeline does. Returns how many attempts were refused (each also told to
 * `onRefused`).
 */
async function callsThrough(
  cap: GpuCap,
  svc: ReturnType<typeof service>,
  n: number,
  onRefused: () => void = () => {},
): Promise<number> {
  let left = n
  let refused = 0
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (left-- > 0) {
        for (;;) {
          try {
            await cap.run(() => svc.call(), never)
            break
          } catch {
            refused++
            onRefused()
          }
        }
      }
    }),
  )
  return refused
}

test('at a steady capacity, probes above it that the service refuses come less and less often', async () => {
  // 600 calls of 5 ms, 4 at a time: about 0.75 s, a probe period of 20 ms. Probing every period
  // costs a refused call every 20 ms, ~37 in all; doubling the period after each refused probe, ~6.
  const cap = new GpuCap({ max: 16, start: 4, increaseEveryMs: 20 })
  const svc = service(4, 5)
  await callsThrough(cap, svc, 600)
  const s = cap.snapshot()
  assert.ok(s.overloads <= 12, `${s.overloads} refused probes for 600 calls`)
  assert.ok(s.limit >= 3 && s.limit <= 4, `limit ${s.limit}`)
})

test('after refused probes, a service that takes more is found again: a probe that holds brings the period back', async () => {
  const cap = new GpuCap({ max: 16, start: 4, increaseEveryMs: 10, probeBackoffMaxMs: 1000 })
  const svc = service(4, 5)
  // ~0.75 s at a capacity of 4: the refused probes stretch the period to 640 ms.
  await callsThrough(cap, svc, 600)
  svc.capacity = 8
  await callsThrough(cap, svc, 1000)
  const s = cap.snapshot()
  // Refused probes have stretched the period towards a second by now; the first raise that holds
  // brings it back to 10 ms, so the limit climbs to the new capacity in this run.
  assert.ok(s.limit >= 7, `limit ${s.limit} grew to the new capacity of 8`)
})

test('Retry-After holds back new calls for that long', async () => {
  const cap = new GpuCap({ max: 4 })
  await assert.rejects(
    cap.run(async () => {
      throw overload(300)
    }, never),
  )
  const refusedAt = Date.now()
  let startedAt = 0
  await cap.run(async () => {
    startedAt = Date.now()
  }, never)
  assert.ok(startedAt - refusedAt >= 250, `next call started ${startedAt - refusedAt} ms after the refusal`)
})

test('consecutive failures open the circuit; one trial call closes it', async () => {
  const cap = new GpuCap({ max: 4, circuitAfter: 3, circuitOpenMs: 200 })
  for (let i = 0; i < 3; i++) {
    await assert.rejects(
      cap.run(async () => {
        throw failure()
      }, never),
    )
  }
  assert.equal(cap.snapshot().circuit, 'open')
  const events: string[] = []
  let trialDone = false
  const calls = [0, 1, 2].map((i) =>
    cap.run(async () => {
      events.push(`start ${i} trialDone=${trialDone}`)
      await wait(50)
      if (events.length === 1) trialDone = true
    }, never),
  )
  await Promise.all(calls)
  assert.equal(events.length, 3)
  assert.match(events[0] as string, /trialDone=false/)
  assert.ok(
    events.slice(1).every((e) => e.endsWith('trialDone=true')),
    `the others waited for the trial: ${events.join('; ')}`,
  )
  assert.equal(cap.snapshot().circuit, 'closed')
  assert.equal(cap.snapshot().circuitOpens, 1)
})

test('a cancelled call neither counts as a failure nor waits', async () => {
  const cap = new GpuCap({ max: 1, circuitAfter: 1 })
  const stop = new AbortController()
  stop.abort()
  await assert.rejects(
    cap.run(async () => 'never', stop.signal),
    /cancelled/,
  )
  assert.equal(cap.snapshot().circuit, 'closed')
})

test('slow start: from 1 the limit grows until the first refusal, so a cap of 16 over a capacity of 4 costs a refusal or two, not a burst', async () => {
  const run = (cap: GpuCap) => callsThrough(cap, service(4, 10), 200)
  const slow = new GpuCap({ max: 16, start: 1, slowStart: true, increaseEveryMs: 1000 })
  const refusedSlow = await run(slow)
  assert.ok(refusedSlow <= 3, `slow start: ${refusedSlow} of 200 calls refused`)
  assert.equal(slow.snapshot().slowStart, false, 'the first refusal ended slow start')
  assert.ok(slow.snapshot().limit >= 3 && slow.snapshot().limit <= 5, `limit ${slow.snapshot().limit}`)
  const atMax = new GpuCap({ max: 16, increaseEveryMs: 1000 })
  const refusedAtMax = await run(atMax)
  assert.ok(
    refusedAtMax >= 10,
    `starting at the maximum refuses a burst (${refusedAtMax}): what slow start avoids`,
  )
})

/** Slow start from 1 in steps of 10 ms (as `start` runs it), and no gentle probes within a test. */
const SLOW_FROM_ONE = { max: 16, start: 1, slowStart: true, slowStartStepMs: 10, increaseEveryMs: 60_000 }

test('before its first answer, slow start adds a call each probe period: a capacity of 4 is full long before the first call returns', async () => {
  // Calls of 300 ms, refused at once over a capacity of 4. Waiting for answers, slow start has one
  // call in flight for the first 300 ms, two for the next; probing meanwhile, four within a few periods.
  const svc = service(4, 300)
  const cap = new GpuCap(SLOW_FROM_ONE)
  let firstDone = false
  let activeAtFirstAnswer = 0
  let refused = 0
  const one = async (i: number) => {
    for (;;) {
      try {
        await cap.run(async () => {
          const out = await svc.call()
          if (!firstDone) {
            firstDone = true
            // This call is still counted by the service until it returns: the others in flight with it.
            activeAtFirstAnswer = svc.maxActive
          }
          return out
        }, never)
        return i
      } catch {
        refused++
      }
    }
  }
  await Promise.all(Array.from({ length: 12 }, (_, i) => one(i)))
  assert.equal(activeAtFirstAnswer, 4, 'all four slots were in use before the first answer came back')
  assert.ok(refused <= 2, `${refused} calls refused`)
  assert.equal(cap.snapshot().limit, 4)
})

test('slow start takes one step at a time: a refusal that takes a few ms to come back costs a refused call or two, not one per answer meanwhile', async () => {
  // Calls of 36 ms (the bench's 16 documents), capacity 4, a refusal seen 8 ms after the call.
  // Raising at every answer, the answers that came in while the first refusal was on its way
  // each sent one more call to be refused (4 in every run, as in the `cap` bench). A step of 25 ms
  // leaves the refusal room on a loaded machine; a second refusal can still come from lowering
  // (a call that found a slot as another ended makes the calls in flight look like 5).
  const refusedPerRun: number[] = []
  for (let round = 0; round < 3; round++) {
    const cap = new GpuCap({ ...SLOW_FROM_ONE, slowStartStepMs: 25 })
    refusedPerRun.push(await callsThrough(cap, service(4, 36, 8), 60))
    assert.equal(cap.snapshot().slowStart, false, 'a refusal ended slow start')
  }
  assert.ok(
    refusedPerRun.every((r) => r <= 2),
    `refused calls per run: ${refusedPerRun.join(', ')}`,
  )
})

test('the refusal that ends slow start counts as a refused probe: the first probe above the limit waits twice the period', async () => {
  const cap = new GpuCap({ max: 16, start: 1, slowStart: true, increaseEveryMs: 100 })
  const svc = service(4, 5)
  const refusedAt: number[] = []
  const began = performance.now()
  await callsThrough(cap, svc, 200, () => refusedAt.push(performance.now() - began))
  const [endOfSlowStart, firstProbe] = refusedAt
  assert.ok(endOfSlowStart !== undefined && firstProbe !== undefined, `refused at ${refusedAt.join(', ')} ms`)
  // The old pace probed one period (100 ms) after the end of slow start.
  assert.ok(
    firstProbe - endOfSlowStart >= 180,
    `first probe ${Math.round(firstProbe - endOfSlowStart)} ms after slow start ended (refused at ${refusedAt.map(Math.round).join(', ')} ms)`,
  )
})
