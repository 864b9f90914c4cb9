import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { rememberedLimit } from '../../src/ops/gpu-state.js'
import { encodeBatch } from '../../src/store/batch-file.js'
import {
  ensureLayout,
  type Layout,
  layoutOf,
  leftFile,
  newBatchId,
  stateFiles,
} from '../../src/store/layout.js'
import type { Marker } from '../../src/store/markers.js'
import { registerWriter } from '../../src/store/writers.js'
import { enqueueFromPipe, makeDocs, markerPath, runCli, tempDir } from '../helpers.js'

function marker(state: Marker['state'], extra: Partial<Marker> = {}): string {
  const m: Marker = {
    state,
    host: hostname(),
    pid: process.pid,
    worker: 'w0',
    claim: 'c1',
    claimedAt: new Date(Date.now() - 30_000).toISOString(),
    ...extra,
  }
  return `${JSON.stringify(m)}\n`
}

function batch(layout: Layout, docs: number): string {
  const id = newBatchId()
  writeFileSync(leftFile(layout, id), encodeBatch(id, makeDocs(docs)))
  return id
}

/** A data dir with every state: 3 pending, 2 claimed (1 stale), 4 done (1 with failures, 2 recent), 1 handed-off, 1 bad, 2 dead, 1 ledger line. */
async function prepared(t: Parameters<typeof tempDir>[0]): Promise<Layout> {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  for (const n of [10, 20, 30]) batch(layout, n)
  const fresh = batch(layout, 7)
  writeFileSync(markerPath(layout, fresh), marker('claimed'))
  const stale = batch(layout, 8)
  writeFileSync(markerPath(layout, stale), marker('claimed'))
  const old = new Date(Date.now() - 600_000)
  utimesSync(markerPath(layout, stale), old, old)
  const finished = (agoMs: number) => new Date(Date.now() - agoMs).toISOString()
  writeFileSync(
    markerPath(layout, newBatchId()),
    marker('done', {
      claimedAt: finished(15_000),
      finishedAt: finished(10_000),
      docs: 100,
      ok: 100,
      failed: 0,
    }),
  )
  writeFileSync(
    markerPath(layout, newBatchId()),
    marker('done', {
      claimedAt: finished(35_000),
      finishedAt: finished(30_000),
      docs: 100,
      ok: 97,
      failed: 3,
    }),
  )
  writeFileSync(
    markerPath(layout, newBatchId()),
    marker('done', {
      claimedAt: finished(405_000),
      finishedAt: finished(400_000),
      docs: 100,
      ok: 100,
      failed: 0,
    }),
  )
  writeFileSync(
    markerPath(layout, newBatchId()),
    marker('done', {
      claimedAt: finished(7_205_000),
      finishedAt: finished(7_200_000),
      docs: 100,
      ok: 100,
      failed: 0,
    }),
  )
  writeFileSync(
    markerPath(layout, newBatchId()),
    marker('handed-off', { to: '/elsewhere', handedOffAt: finished(1000) }),
  )
  const badId = newBatchId()
  writeFileSync(path.join(layout.bad, `${badId}.msgpack`), 'garbage')
  writeFileSync(path.join(layout.bad, `${badId}.reason.json`), '{}')
  writeFileSync(path.join(layout.dead, 'a.json'), '{}')
  writeFileSync(path.join(layout.dead, 'b.json'), '{}')
  mkdirSync(layout.ledger, { recursive: true })
  writeFileSync(
    path.join(layout.ledger, '2026-01-01.jsonl'),
    `${JSON.stringify({ id: newBatchId(), state: 'done', docs: 50, ok: 49, failed: 1, finishedAt: '2026-01-01T00:00:00Z' })}\n`,
  )
  return layout
}

async function statusJson(
  t: Parameters<typeof tempDir>[0],
  layout: Layout,
): Promise<Record<string, unknown>> {
  const run = runCli(t, ['status', '--json', '--data-dir', layout.root], { LR_STALE_MS: '60000' })
  assert.equal((await run.exited).code, 0, run.stderr)
  return JSON.parse(run.stdout.join('\n')) as Record<string, unknown>
}

test('status counts match the folders, with every state present', async (t) => {
  const layout = await prepared(t)
  for (const pass of ['first call (reads everything)', 'second call (from state/status-index.json)']) {
    const s = (await statusJson(t, layout)) as {
      batches: Record<string, number>
      docs: Record<string, number>
      rates: { m1: number; m5: number; m15: number }
      etaSeconds: number
      oldestClaim: { ageMs: number }
      ledger: { batches: number }
    }
    assert.deepEqual(
      s.batches,
      { pending: 3, claimed: 2, stale: 1, done: 5, failed: 2, handedOff: 1, bad: 1 },
      pass,
    )
    assert.deepEqual(
      s.docs,
      { pending: 60, claimed: 15, done: 450, ok: 446, failed: 4, dead: 2, repeats: 0, bad: 0 },
      pass,
    )
    assert.equal(s.ledger.batches, 1)
    // Wall time: 200 documents finished in the last minute and the last 5, by work that began 35 s
    // ago (the run is younger than both windows: measured over its own age, not the window's);
    // 300 in the last 15, since 405 s ago.
    // (Seconds pass while the test runs: the spans are 35-45 s and 405-415 s.)
    assert.ok(s.rates.m1 > 200 / 45 && s.rates.m1 <= 200 / 34, `m1 ${s.rates.m1}`)
    assert.ok(s.rates.m5 > 200 / 45 && s.rates.m5 <= 200 / 34, `m5 ${s.rates.m5}`)
    assert.ok(s.rates.m15 > 300 / 415 && s.rates.m15 <= 300 / 404, `m15 ${s.rates.m15}`)
    const eta = s.etaSeconds ?? 0
    assert.ok(eta >= 12 && eta <= 17, `75 documents left at the recent rate: ${eta} s`)
    assert.ok(s.oldestClaim.ageMs >= 30_000)
  }
})

test('status --json schema is stable', async (t) => {
  const s = await statusJson(t, await prepared(t))
  const shape = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]))
      : v === null
        ? 'null'
        : typeof v
  assert.deepEqual(shape(s), {
    dataDir: 'string',
    at: 'string',
    batches: {
      pending: 'number',
      claimed: 'number',
      stale: 'number',
      done: 'number',
      failed: 'number',
      handedOff: 'number',
      bad: 'number',
    },
    docs: {
      pending: 'number',
      claimed: 'number',
      done: 'number',
      ok: 'number',
      failed: 'number',
      dead: 'number',
      repeats: 'number',
      bad: 'number',
    },
    rates: { m1: 'number', m5: 'number', m15: 'number' },
    etaSeconds: 'number',
    oldestClaim: { batch: 'string', host: 'string', pid: 'number', ageMs: 'number' },
    ledger: { batches: 'number' },
    disk: { freeBytes: 'number', totalBytes: 'number', low: 'boolean' },
    paused: 'null',
    prefetch: 'null',
    gpu: 'null',
    dependencies: {},
    writers: 'object',
  })
  assert.deepEqual(s.writers, [])
})

test('status names who is writing into left/ (enqueue, start FILE) until it is done, with the share of its input read', async (t) => {
  const layout = await prepared(t)
  const { release, report } = registerWriter(layout, 'start: enqueue')
  t.after(release)
  report({ bytesRead: 300, totalBytes: 1200, docs: 3, batches: 1 })
  const s = (await statusJson(t, layout)) as {
    writers: { pid: number; what: string; progress?: { percentRead: number | null } }[]
  }
  assert.deepEqual(
    s.writers.map((w) => [w.pid, w.what, w.progress?.percentRead]),
    [[process.pid, 'start: enqueue', 25]],
    'the share read comes with the JSON: the dashboard shows it without a formula of its own',
  )
  const run = runCli(t, ['status', '--data-dir', layout.root])
  assert.equal((await run.exited).code, 0, run.stderr)
  assert.match(
    run.stdout.join('\n'),
    new RegExp(`writing {3}into left/: start: enqueue \\(.* pid ${process.pid}\\) since `),
  )
  release()
  assert.deepEqual((await statusJson(t, layout)).writers, [])
})

test('status shows how far an enqueue still reading its input has got (documents, bytes)', async (t) => {
  const layout = await prepared(t)
  const { run, input } = enqueueFromPipe(t, layout.root, 40)
  type Progress = { docs: number; batches: number; bytesRead: number; totalBytes: number }
  // The first batch file is in left/: its writer has reported (once it has, right after).
  while (readdirSync(layout.left).filter((f) => !f.startsWith('.')).length === 0) await sleep(50)
  let progress: Progress | undefined
  for (let look = 0; look < 10 && !progress; look++) {
    const s = (await statusJson(t, layout)) as { writers: { what: string; progress?: Progress }[] }
    progress = s.writers.find((w) => w.what === 'enqueue')?.progress
  }
  assert.ok(progress, 'the enqueue writer says how far it has got')
  assert.ok(progress.docs >= 10 && progress.docs <= 40, `${progress.docs} documents so far`)
  assert.ok(progress.bytesRead > 0)
  assert.equal(progress.totalBytes, 0, 'a pipe has no size to read towards')
  const text = runCli(t, ['status', '--data-dir', layout.root])
  assert.equal((await text.exited).code, 0, text.stderr)
  assert.match(
    text.stdout.join('\n'),
    /writing {3}into left\/: enqueue \(.*\) since .*: \d+ documents in \d+ batches, [\d.]+ [KM]?B read/,
  )
  input.end()
  assert.equal((await run.exited).code, 0, run.stderr)
  assert.deepEqual((await statusJson(t, layout)).writers, [])
})

test('status text names every state, the rate, ETA and free disk', async (t) => {
  const layout = await prepared(t)
  const run = runCli(t, ['status', '--data-dir', layout.root])
  assert.equal((await run.exited).code, 0, run.stderr)
  const text = run.stdout.join('\n')
  assert.match(text, /pending 3 {2}claimed 2 \(stale 1\) {2}done 5 \(1 in the ledger\) \(with failures 2\)/)
  assert.match(text, /rate .* docs\/s \(1 \/ 5 \/ 15 min\) {2}ETA 1\ds/)
  assert.match(text, /disk .* free of/)
  assert.match(text, /oldest claim/)
})

test('a GPU limit learned from refusals is remembered for the same service, and forgotten when unused or for another', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const now = Date.now()
  const write = (o: Record<string, unknown> = {}) =>
    writeFileSync(
      stateFiles(layout).gpu,
      JSON.stringify({
        limit: 4,
        max: 16,
        service: 'http://gpu/',
        learned: true,
        lastCallAt: now - 1000,
        ...o,
      }),
    )
  assert.equal(await rememberedLimit(layout, 'http://gpu/', 60_000, now), null, 'no earlier run')
  write()
  assert.equal(await rememberedLimit(layout, 'http://gpu/', 60_000, now), 4)
  assert.equal(await rememberedLimit(layout, 'http://other/', 60_000, now), null, 'another service')
  write({ lastCallAt: now - 120_000 })
  assert.equal(
    await rememberedLimit(layout, 'http://gpu/', 60_000, now),
    null,
    'unused for longer than the memory',
  )
  write({ learned: false })
  assert.equal(
    await rememberedLimit(layout, 'http://gpu/', 60_000, now),
    null,
    'nothing learned (no refusal seen)',
  )
  write()
  assert.equal(await rememberedLimit(layout, 'http://gpu/', 0, now), null, 'LR_GPU_REMEMBER_MS=0')
})
