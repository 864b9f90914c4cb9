import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import pino from 'pino'
import type { Doc } from '../../src/core/contracts.js'
import { AbortedError, ClaimLostError, SinkError } from '../../src/core/errors.js'
import { type Layout, leftFile } from '../../src/store/layout.js'
import { readMarker } from '../../src/store/markers.js'
import { ClaimQueue } from '../../src/work/claim-queue.js'
import { type LoopContext, newLoopStats, runLoop } from '../../src/work/loop.js'
import { SoloGate } from '../../src/work/solo-gate.js'
import { batchOf, captureLog, freshLayout, MemorySink, pipelineDeps, ScriptedRecognizer } from './fixtures.js'

function context(deps: LoopContext['deps'], queue: LoopContext['queue'], log = pino({ level: 'silent' })) {
  return {
    deps,
    queue,
    log,
    stopSignal: new AbortController().signal,
    hardSignal: new AbortController().signal,
    heartbeatMs: 50,
    badGraceMs: 0,
    archiveDays: 0,
    untilDrained: true,
    held: new Set(),
    gate: new SoloGate(),
    onFatal: () => {},
    stats: newLoopStats(),
  } satisfies LoopContext
}

/** A claim queue on the layout, started, stopped when the test ends. */
async function startedQueue(t: TestContext, layout: Layout): Promise<ClaimQueue> {
  const queue = new ClaimQueue({ layout, log: pino({ level: 'silent' }), rescanMs: 100, watch: false })
  await queue.start()
  t.after(() => queue.stop())
  return queue
}

test('a loop survives an error from the claim queue: it logs it, backs off and goes on', async (t) => {
  const layout = await freshLayout(t)
  const { id } = await batchOf(layout, 3)
  const real = await startedQueue(t, layout)
  let calls = 0
  // The first look for work fails as a flaky disk would when the marker is created.
  const flaky = Object.create(real) as ClaimQueue
  flaky.next = (...args) => {
    calls++
    if (calls === 1) return Promise.reject(Object.assign(new Error('i/o error'), { code: 'EIO' }))
    return real.next(...args)
  }
  const { log, lines } = captureLog()
  const sink = new MemorySink()
  const ctx = context(pipelineDeps(layout, { sink }), flaky, log)
  await runLoop(ctx, 'w0')
  assert.equal(ctx.stats.loopErrors, 1)
  assert.equal(ctx.stats.batchesDone, 1, 'the loop went on and did the batch')
  assert.equal(sink.rows.size, 3)
  const failed = lines.find((l) => l.msg === 'worker loop iteration failed; backing off')
  assert.equal((failed?.err as { code?: string } | undefined)?.code, 'EIO')
  assert.equal((await readMarker(layout, id))?.state, 'done')
})

test('a claim taken back mid-batch: its calls are cancelled with the reason, nothing is stored then, the loop says so and goes on', async (t) => {
  const layout = await freshLayout(t)
  const { id } = await batchOf(layout, 3)
  const queue = await startedQueue(t, layout)
  const reasons: unknown[] = []
  const scripted = new ScriptedRecognizer()
  // The first claim's call waits for its signal; the janitor takes the claim back meanwhile.
  const recognizer = {
    kind: 'scripted',
    recognize: async (docs: Pick<Doc, 'doc_id' | 'text'>[], signal: AbortSignal) => {
      if (reasons.length > 0 || signal.aborted) return scripted.recognize(docs)
      unlinkSync(path.join(layout.right, id))
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
      reasons.push(signal.reason)
      // As the service's client does: the call was cancelled.
      throw new AbortedError('recognition call cancelled')
    },
    close: async () => {},
  }
  const { log, lines } = captureLog()
  const sink = new MemorySink()
  const ctx = context(pipelineDeps(layout, { sink, recognizer }), queue, log)
  await runLoop(ctx, 'w0')
  assert.equal(reasons.length, 1)
  assert.ok(reasons[0] instanceof ClaimLostError, String(reasons[0]))
  assert.ok(lines.some((l) => String(l.msg).startsWith('claim was taken back; abandoning the batch')))
  assert.equal(ctx.stats.batchesDone, 1, 'claimed again and done')
  assert.equal(sink.writes, 1, 'stored once, by the second claim')
  assert.equal((await readMarker(layout, id))?.state, 'done')
})

test('a permanent sink error stops the loops (onFatal) with the claim given back, never an endless retry', async (t) => {
  const layout = await freshLayout(t)
  const { id } = await batchOf(layout, 2)
  const queue = await startedQueue(t, layout)
  const unknownColumn = new SinkError("Unknown column 'batch_id'", {
    retryable: false,
    driverCode: 'ER_BAD_FIELD_ERROR',
  })
  const sink = new MemorySink(() => {
    throw unknownColumn
  })
  const stop = new AbortController()
  const fatal: Error[] = []
  const ctx = {
    ...context(pipelineDeps(layout, { sink }), queue),
    stopSignal: stop.signal,
    onFatal: (err: Error) => {
      fatal.push(err)
      stop.abort()
    },
  }
  await runLoop(ctx, 'w0')
  assert.deepEqual(fatal, [unknownColumn])
  assert.equal(sink.writes, 1, 'tried once')
  assert.equal(ctx.stats.batchesReleased, 1)
  assert.equal(await readMarker(layout, id), null, 'the claim was given back')
  assert.equal(existsSync(leftFile(layout, id)), true, 'the batch waits for the fix')
})

test('a damaged batch file older than the grace period goes to bad/ with its reason; the loop goes on', async (t) => {
  const layout = await freshLayout(t)
  const bad = await batchOf(layout, 2, 'bad')
  const good = await batchOf(layout, 2, 'good')
  writeFileSync(leftFile(layout, bad.id), 'not msgpack at all')
  const old = new Date(Date.now() - 60_000)
  utimesSync(leftFile(layout, bad.id), old, old)
  const queue = await startedQueue(t, layout)
  const sink = new MemorySink()
  const ctx = context(pipelineDeps(layout, { sink }), queue)
  await runLoop(ctx, 'w0')
  assert.equal(ctx.stats.batchesBad, 1)
  assert.deepEqual([...sink.rows.keys()].sort(), ['good-0', 'good-1'])
  assert.deepEqual(readdirSync(layout.bad).sort(), [`${bad.id}.msgpack`, `${bad.id}.reason.json`])
  const reason = JSON.parse(readFileSync(`${layout.bad}/${bad.id}.reason.json`, 'utf8')) as { code: string }
  assert.equal(reason.code, 'LR_BATCH_CORRUPT')
  assert.equal(await readMarker(layout, bad.id), null, 'no marker is left for a set-aside batch')
  assert.equal((await readMarker(layout, good.id))?.state, 'done')
})

/** A sink whose writes wait until the test lets each one through. */
class GatedSink extends MemorySink {
  readonly pending: { batchId: string; pass: () => void }[] = []
  override async write(batchId: string, results: Parameters<MemorySink['write']>[1]): Promise<void> {
    await new Promise<void>((pass) => this.pending.push({ batchId, pass }))
    await super.write(batchId, results)
  }
}

/** Wait until `ok` holds (the test's timeout turns a hang into a failure). */
async function until(ok: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await ok())) await new Promise((r) => setTimeout(r, 5))
}

test('write-behind: a loop prepares its next batch while a commit is pending; each batch is done only after its own commit', {
  timeout: 20_000,
}, async (t) => {
  const layout = await freshLayout(t)
  const ids = [
    (await batchOf(layout, 2, 'a')).id,
    (await batchOf(layout, 2, 'b')).id,
    (await batchOf(layout, 2, 'c')).id,
  ]
  const queue = await startedQueue(t, layout)
  const sink = new GatedSink()
  const ctx = context(pipelineDeps(layout, { sink }), queue)
  const loop = runLoop(ctx, 'w0')
  // One loop, no commit let through yet: all three batches reach the sink (the old loop stopped at one).
  await until(() => sink.pending.length === 3)
  for (const id of ids)
    assert.equal((await readMarker(layout, id))?.state, 'claimed', `${id} not done before its commit`)
  assert.equal(sink.rows.size, 0)
  // The second commit first: that batch is done, the others still wait for theirs.
  const second = sink.pending[1] as (typeof sink.pending)[number]
  second.pass()
  await until(async () => (await readMarker(layout, second.batchId))?.state === 'done')
  for (const p of [sink.pending[0], sink.pending[2]])
    assert.equal((await readMarker(layout, p?.batchId ?? ''))?.state, 'claimed')
  for (const p of sink.pending) p.pass()
  await loop
  assert.equal(ctx.stats.batchesDone, 3)
  assert.equal(sink.rows.size, 6)
  for (const id of ids) {
    assert.equal((await readMarker(layout, id))?.state, 'done')
    assert.equal(existsSync(leftFile(layout, id)), false, 'retired after its commit')
  }
})
