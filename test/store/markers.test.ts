import assert from 'node:assert/strict'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { ensureLayout, layoutOf, newBatchId } from '../../src/store/layout.js'
import { readMarker, tryClaim } from '../../src/store/markers.js'
import { tempDir } from '../helpers.js'

test('finish rewrites the claim marker in place (no temp file, no rename) and the result is the whole done marker', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const id = newBatchId()
  const claim = await tryClaim(layout, id, 'w0')
  assert.ok(claim)
  const file = path.join(layout.right, id)
  const inode = statSync(file).ino
  await claim.finish({ docs: 3, ok: 2, failed: 1 })
  // Same file: the done marker costs no directory operation (bench/RESULTS.md, the sink-bound job).
  assert.equal(statSync(file).ino, inode)
  const text = readFileSync(file, 'utf8')
  assert.equal(text.split('\n').length, 2, 'one JSON line, nothing of the claim left after it')
  const done = JSON.parse(text)
  assert.equal(done.state, 'done')
  assert.deepEqual([done.docs, done.ok, done.failed], [3, 2, 1])
  assert.equal(done.claim, claim.marker.claim)
})

test('a marker caught half-written (a reader during the rewrite, or a crash) reads as our claim or as done, both safe', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const id = newBatchId()
  const claimed = JSON.stringify({
    state: 'claimed',
    host: 'h',
    pid: 1,
    worker: 'w0',
    claim: 'c',
    claimedAt: 'x',
  })
  const done = JSON.stringify({
    ...JSON.parse(claimed),
    state: 'done',
    finishedAt: 'y',
    docs: 1,
    ok: 1,
    failed: 0,
  })
  // The new bytes over the old ones up to byte k; the rewrite cut short; nothing yet. The rewrite
  // starts after the sink has the batch's rows, so "done" is true of the batch even when torn.
  const torn = Array.from({ length: done.length }, (_, k) => done.slice(0, k) + claimed.slice(k))
  for (const part of [...torn, done.slice(0, 30), '']) {
    writeFileSync(path.join(layout.right, id), part)
    const read = await readMarker(layout, id)
    assert.ok(read, `read ${JSON.stringify(part)}`)
    if (read.state === 'claimed') assert.ok(['c', ''].includes(read.claim), `a claim not ours: ${part}`)
    else assert.equal(read.state, 'done', `read ${JSON.stringify(part)}`)
  }
})
