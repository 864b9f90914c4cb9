import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { decodeBatch } from '../../src/store/batch-file.js'
import { retireBatchFile, writeNewBatch } from '../../src/store/batches.js'
import { reclaimDisk } from '../../src/store/housekeeping.js'
import { ensureLayout, layoutOf, newBatchId } from '../../src/store/layout.js'
import { readMarker, tryClaim } from '../../src/store/markers.js'
import { makeDocs, tempDir } from '../helpers.js'

test('a done batch file is kept as a spare: the next batch file and the next claim marker reuse inodes instead of making new ones', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const big = await writeNewBatch(layout, makeDocs(50), 'test', { durable: false })
  const firstInode = statSync(big.file).ino
  await retireBatchFile(layout, big.id, 0)
  assert.equal(readdirSync(layout.spares).length, 1, 'kept in state/spares/, not deleted')

  // A smaller batch in the bigger one's inode: written whole, the old tail cut off.
  const small = await writeNewBatch(layout, makeDocs(2), 'test', { durable: false })
  assert.equal(statSync(small.file).ino, firstInode, 'the spare became the new batch file')
  assert.equal(statSync(small.file).size, small.bytes)
  assert.deepEqual(decodeBatch(readFileSync(small.file), small.id).docs, makeDocs(2))
  assert.equal(readdirSync(layout.spares).length, 0)

  await retireBatchFile(layout, small.id, 0)
  const id = newBatchId()
  const claim = await tryClaim(layout, id, 'w0')
  assert.ok(claim)
  const marker = path.join(layout.right, id)
  assert.equal(statSync(marker).ino, firstInode, 'the spare became the claim marker')
  assert.deepEqual(await readMarker(layout, id), claim.marker, 'nothing of the old batch bytes left')
  assert.deepEqual(readdirSync(layout.spares), [], 'no private name left behind in state/spares/')
})

test('a claim from a spare is exclusive: a batch already claimed stays its owner’s, and the spare waits for the next', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const id = newBatchId()
  const first = await tryClaim(layout, id, 'w0')
  assert.ok(first)
  const spare = await writeNewBatch(layout, makeDocs(3), 'test', { durable: false })
  await retireBatchFile(layout, spare.id, 0)
  assert.equal(await tryClaim(layout, id, 'w1'), null, 'someone else owns it')
  assert.deepEqual(await readMarker(layout, id), first.marker, 'the owner’s marker untouched')
  assert.equal(readdirSync(layout.spares).length, 1, 'the spare went back to the pool')
  const other = newBatchId()
  assert.ok(await tryClaim(layout, other, 'w1'))
  assert.equal(readdirSync(layout.spares).length, 0, 'and was used by the next claim')
})

test('the disk running low deletes every spare first', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const batches = [1, 2, 3].map(() => writeNewBatch(layout, makeDocs(3), 'test', { durable: false }))
  for (const b of await Promise.all(batches)) await retireBatchFile(layout, b.id, 0)
  assert.equal(readdirSync(layout.spares).length, 3)
  await reclaimDisk(layout, { kind: 'bytes', value: 0 })
  assert.equal(readdirSync(layout.spares).length, 0)
})
