import assert from 'node:assert/strict'
import {
  existsSync,
  linkSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { retireBatchFile, writeNewBatch } from '../../src/store/batches.js'
import { removeOrphanClaims, removeOrphanTemps } from '../../src/store/housekeeping.js'
import { ensureLayout, type Layout, layoutOf, newBatchId } from '../../src/store/layout.js'
import { readMarker, tryClaim } from '../../src/store/markers.js'
import { scanSpool } from '../../src/store/scan.js'
import { dropSpares, MAX_SPARES } from '../../src/store/spares.js'
import { smallDisk, tempDir } from '../helpers.js'

const dotNames = (layout: Layout): string[] => readdirSync(layout.right).filter((n) => n.startsWith('.'))

/** A batch written, claimed, done and retired, as a worker does it: returns its file's inode. */
async function runOneBatch(layout: Layout): Promise<number> {
  const { id, file } = await writeNewBatch(layout, [{ doc_id: 'd1', text: 'some text' }])
  const ino = statSync(file).ino
  const claim = await tryClaim(layout, id, 'w0')
  assert.ok(claim)
  await claim.finish({ docs: 1, ok: 1, failed: 0 })
  await retireBatchFile(layout, id, 0, { spare: true })
  assert.equal(existsSync(file), false, 'a retired batch file is gone from left/')
  return ino
}

test('a retired batch file becomes the next claim marker: once batches retire, a claim allocates no inode', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const ino = await runOneBatch(layout)
  const [spare, ...more] = dotNames(layout)
  assert.ok(spare !== undefined && more.length === 0, 'the retired file is kept as one spare in right/')
  assert.equal(statSync(path.join(layout.right, spare)).ino, ino)
  // One block stays for the marker to be written over (a new block costs more than freeing one).
  const kept = statSync(path.join(layout.right, spare)).size
  assert.ok(kept > 0 && kept <= 4096, `one block kept until claimed, the rest freed: ${kept} bytes`)
  const id = newBatchId()
  const claim = await tryClaim(layout, id, 'w1')
  assert.ok(claim)
  const marker = path.join(layout.right, id)
  // On an ext4 without a journal a new inode costs up to 1.5 ms here (bench/RESULTS.md, tenth session).
  assert.equal(statSync(marker).ino, ino, 'the marker is the retired batch file, not a new inode')
  assert.equal(statSync(marker).nlink, 1, 'the spare name is gone: one name, the marker')
  assert.deepEqual(await readMarker(layout, id), claim.marker, 'the whole claim, nothing of the batch left')
  assert.equal(readFileSync(marker, 'utf8'), `${JSON.stringify(claim.marker)}\n`)
  assert.deepEqual(dotNames(layout), [])
})

test('a claim on a batch already held leaves that marker as it was and keeps the spare for the next claim', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const ino = await runOneBatch(layout)
  const held = newBatchId()
  const theirs = `${JSON.stringify({ state: 'claimed', host: 'other', pid: 7, worker: 'w9', claim: 'c', claimedAt: 'x' })}\n`
  writeFileSync(path.join(layout.right, held), theirs)
  assert.equal(await tryClaim(layout, held, 'w0'), null)
  assert.equal(readFileSync(path.join(layout.right, held), 'utf8'), theirs)
  const next = newBatchId()
  assert.ok(await tryClaim(layout, next, 'w0'))
  assert.equal(statSync(path.join(layout.right, next)).ino, ino)
  assert.deepEqual(dotNames(layout), [])
})

test('a spare removed meanwhile (the janitor sweeps old temp files) costs the claim only a create', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  await runOneBatch(layout)
  for (const n of dotNames(layout)) rmSync(path.join(layout.right, n))
  const id = newBatchId()
  const claim = await tryClaim(layout, id, 'w0')
  assert.ok(claim)
  assert.deepEqual(await readMarker(layout, id), claim.marker)
  assert.deepEqual(dotNames(layout), [])
})

test('a spare keeps one block of a large batch file: spares hold back no disk worth counting', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const docs = Array.from({ length: 100 }, (_, i) => ({ doc_id: `d${i}`, text: 'x'.repeat(500) }))
  const { id, file } = await writeNewBatch(layout, docs)
  assert.ok(statSync(file).size > 50_000)
  const claim = await tryClaim(layout, id, 'w0')
  assert.ok(claim)
  await claim.finish({ docs: 100, ok: 100, failed: 0 })
  await retireBatchFile(layout, id, 0, { spare: true })
  const [spare] = dotNames(layout)
  assert.ok(spare !== undefined)
  assert.equal(statSync(path.join(layout.right, spare)).size, 4096)
})

test('a batch file that waited hours before it was done becomes a spare the temp sweep leaves alone', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const { id, file } = await writeNewBatch(layout, [{ doc_id: 'd1', text: 'some text' }])
  const hoursAgo = new Date(Date.now() - 3 * 60 * 60 * 1000)
  utimesSync(file, hoursAgo, hoursAgo)
  const claim = await tryClaim(layout, id, 'w0')
  assert.ok(claim)
  await claim.finish({ docs: 1, ok: 1, failed: 0 })
  await retireBatchFile(layout, id, 0, { spare: true })
  assert.equal(dotNames(layout).length, 1, 'kept as a spare')
  await removeOrphanTemps(layout)
  assert.equal(dotNames(layout).length, 1, 'dated from its retirement, not from the batch file it was')
})

test('names in right/ that are not batch ids (a spare, a temp file) are no markers: the sweeps leave them alone', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const spare = path.join(layout.right, '.tmp-spare-0a1b2c3d1')
  writeFileSync(spare, '')
  const old = new Date(Date.now() - 10 * 60_000)
  utimesSync(spare, old, old)
  assert.deepEqual([...(await scanSpool(layout)).right], [])
  assert.equal(await removeOrphanClaims(layout, 1000), 0)
  assert.ok(existsSync(spare))
})

test('a spare left linked to a marker by a crash: the temp sweep removes the spare name, the marker stays whole', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const id = newBatchId()
  const marker = path.join(layout.right, id)
  const text = `${JSON.stringify({ state: 'claimed', host: 'h', pid: 1, worker: 'w0', claim: 'c', claimedAt: 'x' })}\n`
  writeFileSync(marker, text)
  const spare = path.join(layout.right, '.tmp-spare-0a1b2c3d2')
  linkSync(marker, spare)
  const old = new Date(Date.now() - 2 * 60 * 60_000)
  utimesSync(spare, old, old)
  await removeOrphanTemps(layout)
  assert.equal(existsSync(spare), false)
  assert.equal(readFileSync(marker, 'utf8'), text)
})

test("the janitor's retirement of a done batch keeps no spare: a process that claims nothing would only leave them behind", async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const { id, file } = await writeNewBatch(layout, [{ doc_id: 'd1', text: 't' }])
  const claim = await tryClaim(layout, id, 'w0')
  assert.ok(claim)
  await claim.finish({ docs: 1, ok: 1, failed: 0 })
  await retireBatchFile(layout, id, 0) // as the janitor calls it
  assert.equal(existsSync(file), false)
  assert.deepEqual(dotNames(layout), [])
})

test('a process keeps at most MAX_SPARES spares, and dropSpares removes them all', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  // Claimed together, then retired together (a claim takes a spare, so one batch at a time keeps one).
  const ids: string[] = []
  for (let i = 0; i < MAX_SPARES + 5; i++)
    ids.push((await writeNewBatch(layout, [{ doc_id: `d${i}`, text: 't' }])).id)
  for (const id of ids) {
    const claim = await tryClaim(layout, id, 'w0')
    assert.ok(claim)
    await claim.finish({ docs: 1, ok: 1, failed: 0 })
  }
  for (const id of ids) await retireBatchFile(layout, id, 0, { spare: true })
  const spares = dotNames(layout)
  assert.equal(spares.length, MAX_SPARES)
  assert.deepEqual(readdirSync(layout.left), [])
  dropSpares(layout)
  assert.deepEqual(dotNames(layout), [])
  // Claims go on with creates.
  assert.ok(await tryClaim(layout, newBatchId(), 'w0'))
})

test('left/ on another file system than right/: a done batch file is deleted, not kept, and claims create their markers', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  // A user who mounts left/ on a disk of its own: the rename into right/ would cross file systems.
  rmSync(layout.left, { recursive: true })
  symlinkSync(smallDisk(t, '8m'), layout.left)
  await runOneBatch(layout)
  assert.deepEqual(dotNames(layout), [], 'no spare: its rename crossed file systems (EXDEV)')
  const id = newBatchId()
  const claim = await tryClaim(layout, id, 'w0')
  assert.ok(claim)
  assert.deepEqual(await readMarker(layout, id), claim.marker)
})
