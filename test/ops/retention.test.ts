import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { encodeBatch } from '../../src/store/batch-file.js'
import {
  ensureLayout,
  type Layout,
  layoutOf,
  leftFile,
  milestoneFile,
  newBatchId,
} from '../../src/store/layout.js'
import type { Marker } from '../../src/store/markers.js'
import { logRecords, makeDocs, markerPath, runCli, tempDir } from '../helpers.js'

const DAY_MS = 24 * 3600 * 1000

async function dataDir(t: Parameters<typeof tempDir>[0]): Promise<Layout> {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  return layout
}

/** A batch in the state a worker leaves it in when it dies right after marking it done. */
function doneBatch(
  layout: Layout,
  finishedAgoMs: number,
  opts: { file?: boolean; docs?: number } = {},
): string {
  const id = newBatchId()
  const docs = opts.docs ?? 4
  if (opts.file ?? true) {
    writeFileSync(leftFile(layout, id), encodeBatch(id, makeDocs(docs)))
    writeFileSync(milestoneFile(layout, id), 'recognition output')
  }
  const at = new Date(Date.now() - finishedAgoMs).toISOString()
  const m: Marker = {
    state: 'done',
    host: hostname(),
    pid: 1,
    worker: 'w0',
    claim: 'c',
    claimedAt: at,
    finishedAt: at,
    docs,
    ok: docs - 1,
    failed: 1,
  }
  writeFileSync(markerPath(layout, id), `${JSON.stringify(m)}\n`)
  return id
}

function pendingBatch(layout: Layout): string {
  const id = newBatchId()
  writeFileSync(leftFile(layout, id), encodeBatch(id, makeDocs(3)))
  return id
}

async function janitorOnce(
  t: Parameters<typeof tempDir>[0],
  layout: Layout,
  env: Record<string, string> = {},
) {
  const run = runCli(t, ['janitor', '--once', '--data-dir', layout.root], env)
  assert.equal((await run.exited).code, 0, run.stderr)
  return logRecords(run.stdout)
}

async function statusJson(t: Parameters<typeof tempDir>[0], layout: Layout) {
  const run = runCli(t, ['status', '--json', '--data-dir', layout.root])
  assert.equal((await run.exited).code, 0, run.stderr)
  return JSON.parse(run.stdout.join('\n')) as {
    batches: { done: number; pending: number }
    docs: { done: number; ok: number; failed: number }
    ledger: { batches: number }
  }
}

test("done batch files and milestones are gone after the janitor's pass; done markers remain", async (t) => {
  const layout = await dataDir(t)
  const done = [doneBatch(layout, 1000), doneBatch(layout, 2000)]
  const pending = pendingBatch(layout)
  await janitorOnce(t, layout)
  for (const id of done) {
    assert.equal(existsSync(leftFile(layout, id)), false, 'batch file deleted')
    assert.equal(existsSync(milestoneFile(layout, id)), false, 'milestone deleted')
    assert.equal(existsSync(markerPath(layout, id)), true, 'done marker kept')
  }
  assert.equal(existsSync(leftFile(layout, pending)), true, 'a pending batch is not touched')
})

test('LR_ARCHIVE_DAYS keeps done batch files in archive/ and prunes them by age', async (t) => {
  const layout = await dataDir(t)
  const id = doneBatch(layout, 1000)
  await janitorOnce(t, layout, { LR_ARCHIVE_DAYS: '7' })
  assert.equal(existsSync(leftFile(layout, id)), false)
  const kept = path.join(layout.archive, `${id}.msgpack`)
  assert.equal(existsSync(kept), true, 'moved to archive/')
  const old = path.join(layout.archive, `${newBatchId()}.msgpack`)
  writeFileSync(old, 'an old done batch')
  const tenDaysAgo = new Date(Date.now() - 10 * DAY_MS)
  utimesSync(old, tenDaysAgo, tenDaysAgo)
  await janitorOnce(t, layout, { LR_ARCHIVE_DAYS: '7' })
  assert.equal(existsSync(old), false, 'older than 7 days: pruned')
  assert.equal(existsSync(kept), true, 'recent: kept')
})

test('old done markers are compacted into state/ledger/; status counts both; a repeated pass adds nothing', async (t) => {
  const layout = await dataDir(t)
  const old = Array.from({ length: 5 }, () => doneBatch(layout, 2 * DAY_MS, { file: false, docs: 10 }))
  const oldWithFile = doneBatch(layout, 2 * DAY_MS, { docs: 10 })
  const recent = [
    doneBatch(layout, 60_000, { file: false, docs: 10 }),
    doneBatch(layout, 1000, { file: false, docs: 10 }),
  ]
  const before = await statusJson(t, layout)
  assert.equal(before.batches.done, 8)
  assert.equal(before.docs.done, 80)

  const log = await janitorOnce(t, layout, { LR_LEDGER_AFTER_MS: String(DAY_MS) })
  assert.ok(log.some((r) => r.msg === 'done markers compacted into state/ledger/' && r.markers === 6))
  for (const id of [...old, oldWithFile]) assert.equal(existsSync(markerPath(layout, id)), false)
  for (const id of recent) assert.equal(existsSync(markerPath(layout, id)), true, 'recent markers stay')
  const day = new Date(Date.now() - 2 * DAY_MS).toISOString().slice(0, 10)
  const ledgerFile = path.join(layout.ledger, `${day}.jsonl`)
  const lines = readFileSync(ledgerFile, 'utf8').trim().split('\n')
  assert.equal(lines.length, 6)
  assert.deepEqual(
    lines.map((l) => (JSON.parse(l) as { id: string }).id).sort(),
    [...old, oldWithFile].sort(),
  )
  const after = await statusJson(t, layout)
  assert.equal(after.batches.done, 8, 'status counts markers and the ledger')
  assert.equal(after.docs.done, 80)
  assert.equal(after.docs.failed, 8)
  assert.equal(after.ledger.batches, 6)

  // A pass killed after writing the ledger but before removing the markers: the rerun adds no duplicate.
  const again = old[0] as string
  writeFileSync(markerPath(layout, again), `${lines.find((l) => l.includes(again))}`)
  await janitorOnce(t, layout, { LR_LEDGER_AFTER_MS: String(DAY_MS) })
  assert.equal(readFileSync(ledgerFile, 'utf8').trim().split('\n').length, 6)
  assert.equal(existsSync(markerPath(layout, again)), false)
  assert.equal((await statusJson(t, layout)).batches.done, 8)
})

test('free disk under LR_MIN_FREE_DISK: the janitor reclaims archive/ and orphan temp files, never pending work', async (t) => {
  const layout = await dataDir(t)
  mkdirSync(layout.archive, { recursive: true })
  const archived = [1, 2, 3].map((i) => {
    const f = path.join(layout.archive, `${newBatchId()}.msgpack`)
    writeFileSync(f, Buffer.alloc(1000 * i))
    return f
  })
  const orphan = path.join(layout.left, '.tmp-abc.msgpack-1234')
  writeFileSync(orphan, 'half a batch from a process that died')
  const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000)
  utimesSync(orphan, twoHoursAgo, twoHoursAgo)
  const pending = pendingBatch(layout)
  const done = doneBatch(layout, 1000, { file: false })
  // 100% can never be met: everything that is safe to delete goes.
  const log = await janitorOnce(t, layout, { LR_MIN_FREE_DISK: '100%', LR_ARCHIVE_DAYS: '30' })
  for (const f of archived) assert.equal(existsSync(f), false, `${path.basename(f)} reclaimed`)
  assert.equal(existsSync(orphan), false, 'orphan temp file reclaimed')
  assert.equal(existsSync(leftFile(layout, pending)), true, 'pending batch kept')
  assert.equal(existsSync(markerPath(layout, done)), true, 'done marker kept')
  const line = log.filter((r) => String(r.msg).startsWith('free disk under LR_MIN_FREE_DISK'))
  assert.equal(line.length, 1, 'one log line')
  assert.equal(line[0]?.freedBytes, 6000 + 'half a batch from a process that died'.length)
  assert.equal(line[0]?.stillLow, true)
  assert.deepEqual(readdirSync(layout.archive), [])
})
