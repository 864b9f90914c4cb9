import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import pino from 'pino'
import { encodeBatch } from '../../src/store/batch-file.js'
import { ensureLayout, layoutOf, leftFile, newBatchId } from '../../src/store/layout.js'
import { tryClaim } from '../../src/store/markers.js'
import { ClaimQueue, WATCH_OFF_ABOVE, WATCH_ON_BELOW } from '../../src/work/claim-queue.js'
import { logRecords, makeDocs, readMarkers, runCli, tempDir } from '../helpers.js'

const silent = pino({ level: 'silent' })

test('exclusive create: a batch can be claimed once; release makes it claimable again', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const id = newBatchId()
  writeFileSync(leftFile(layout, id), encodeBatch(id, makeDocs(1)))
  const first = await tryClaim(layout, id, 'a')
  assert.ok(first)
  assert.equal(await tryClaim(layout, id, 'b'), null)
  assert.equal(await first.release(), true)
  const again = await tryClaim(layout, id, 'c')
  assert.ok(again)
  // The first claim is no longer ours: it cannot heartbeat, finish or release the new one.
  await assert.rejects(first.heartbeat(), /taken back/)
  await assert.rejects(first.finish({ docs: 1, ok: 1, failed: 0 }), /taken back/)
  assert.equal(await first.release(), false)
  assert.equal(readMarkers(layout.root).get(id)?.worker, 'c')
})

test('dot-temp, rsync temp and invalid names are never claimed; each invalid name warns once', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const valid = newBatchId()
  writeFileSync(leftFile(layout, valid), encodeBatch(valid, makeDocs(1)))
  const other = newBatchId()
  const ignored = [
    `.tmp-${other}.msgpack-1a2b3c4d`,
    `.${other}.msgpack.Xy12Ab`,
    'not-a-short-uuid.msgpack',
    `${other}.json`,
    'README.txt',
  ]
  for (const name of ignored) writeFileSync(path.join(layout.left, name), encodeBatch(other, makeDocs(1)))
  const warnings: string[] = []
  const log = pino({ level: 'warn' }, { write: (s: string) => warnings.push(s) })
  const queue = new ClaimQueue({ layout, log, rescanMs: 60_000, watch: false })
  await queue.start()
  t.after(() => queue.stop())
  const claimed: string[] = []
  for (let i = 0; i < 3; i++) {
    await queue.refresh()
    const c = await queue.claimOne('w')
    if (c) claimed.push(c.id)
  }
  assert.deepEqual(claimed, [valid])
  assert.deepEqual(readdirSync(layout.right), [valid])
  const invalidWarnings = warnings.filter((w) => w.includes('ignoring file'))
  assert.equal(invalidWarnings.length, 3, invalidWarnings.join(''))
})

test('the queue wakes on a new file in left/ (chokidar) well before its rescan period', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const queue = new ClaimQueue({ layout, log: silent, rescanMs: 3_600_000 })
  await queue.start()
  t.after(() => queue.stop())
  const stop = new AbortController()
  t.after(() => stop.abort())
  const waiting = queue.next('w', stop.signal)
  // Past the moment right after start-up that only the catch-up rescan covers (see ClaimQueue.start).
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const id = newBatchId()
  writeFileSync(leftFile(layout, id), encodeBatch(id, makeDocs(1)))
  const claim = await waiting
  assert.equal(claim?.id, id)
})

test('with a backlog the queue stops watching left/ and resumes watching once it drains', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const n = WATCH_OFF_ABOVE + 10
  for (let i = 0; i < n; i++) {
    const id = newBatchId()
    writeFileSync(leftFile(layout, id), encodeBatch(id, makeDocs(1)))
  }
  const queue = new ClaimQueue({ layout, log: silent, rescanMs: 3_600_000 })
  await queue.start()
  t.after(() => queue.stop())
  assert.equal(queue.watching, false, 'no watch while a backlog waits')
  for (let i = 0; i < n - WATCH_ON_BELOW + 1; i++) assert.ok(await queue.claimOne('w'))
  assert.equal(queue.watching, true, 'watching again once few candidates are left')
  for (let i = 0; i < WATCH_ON_BELOW - 1; i++) assert.ok(await queue.claimOne('w'))
  // With a one-hour rescan period, only the watch can bring this one in.
  const stop = new AbortController()
  t.after(() => stop.abort())
  const waiting = queue.next('w', stop.signal)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const id = newBatchId()
  writeFileSync(leftFile(layout, id), encodeBatch(id, makeDocs(1)))
  assert.equal((await waiting)?.id, id)
})

test('two processes racing over 5,000 batches claim each exactly once, and both take part', async (t) => {
  const dir = tempDir(t)
  const layout = layoutOf(dir)
  mkdirSync(layout.left, { recursive: true })
  const ids: string[] = []
  for (let i = 0; i < 5000; i++) {
    const id = newBatchId()
    ids.push(id)
    writeFileSync(leftFile(layout, id), encodeBatch(id, [{ doc_id: `d${i}`, text: 'x' }]))
  }
  const args = [
    'work',
    '--once',
    '--data-dir',
    dir,
    '--recognizer',
    'none',
    '--workers',
    '4',
    '--heartbeat-ms',
    '60000',
  ]
  const env = { LR_LOG_LEVEL: 'debug' }
  const a = runCli(t, args, env)
  const b = runCli(t, args, env)
  const [ra, rb] = await Promise.all([a.exited, b.exited])
  assert.equal(ra.code, 0, a.stderr)
  assert.equal(rb.code, 0, b.stderr)
  const claimsOf = (lines: string[]) =>
    logRecords(lines)
      .filter((r) => r.msg === 'claimed')
      .map((r) => r.batch as string)
  const claimsA = claimsOf(a.stdout)
  const claimsB = claimsOf(b.stdout)
  const all = [...claimsA, ...claimsB]
  assert.equal(all.length, 5000, 'one claim per batch in all')
  assert.equal(new Set(all).size, 5000, 'no batch claimed twice')
  assert.ok(
    claimsA.length > 0 && claimsB.length > 0,
    `both processes claimed (${claimsA.length}/${claimsB.length})`,
  )
  const markers = readMarkers(dir)
  assert.equal(markers.size, 5000)
  assert.ok([...markers.values()].every((m) => m.state === 'done'))
  assert.deepEqual(new Set(markers.keys()), new Set(ids))
})
