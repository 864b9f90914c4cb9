import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { isLrError } from '../../src/core/errors.js'
import {
  decodeBatch,
  encodeBatch,
  encodeBatchPacked,
  packDoc,
  readBatchHeader,
  writeBatchFile,
} from '../../src/store/batch-file.js'
import { rewriteBatchFile, writeNewBatch } from '../../src/store/batches.js'
import { ensureLayout, layoutOf, leftFile, newBatchId } from '../../src/store/layout.js'
import { makeDocs, tempDir } from '../helpers.js'

function assertCorrupt(data: Uint8Array, id: string, reason: RegExp): void {
  assert.throws(
    () => decodeBatch(data, id),
    (err: unknown) => isLrError(err, 'LR_BATCH_CORRUPT') && reason.test(err.message),
  )
}

test('a batch file round-trips documents, extra fields and the header', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const id = newBatchId()
  const docs = [...makeDocs(3), { doc_id: 'x', text: '中文 ✓', lang: 'zh', meta: { n: 1 } }]
  await writeBatchFile(leftFile(layout, id), id, docs, 'test')
  const batch = decodeBatch(readFileSync(leftFile(layout, id)), id)
  assert.deepEqual(batch.docs, docs)
  assert.equal(batch.header.docs, 4)
  assert.equal(batch.header.id, id)
  assert.equal(batch.header.source, 'test')
  const header = await readBatchHeader(leftFile(layout, id), id)
  assert.equal(header?.docs, 4)
})

test('a batch of documents packed one by one decodes as one packed whole does, at every array header size', () => {
  for (const n of [1, 15, 16, 65_535, 65_536]) {
    const docs = makeDocs(n)
    const id = newBatchId()
    const packed = Buffer.concat(docs.map((d) => packDoc(d)))
    const batch = decodeBatch(encodeBatchPacked(id, packed, n, 'test'), id)
    assert.deepEqual(batch.docs, docs)
    assert.equal(batch.header.docs, n)
    assert.deepEqual(batch.docs, decodeBatch(encodeBatch(id, docs, 'test'), id).docs)
  }
})

test('truncated, bit-flipped, empty and foreign files are detected with a reason', () => {
  const id = newBatchId()
  const good = encodeBatch(id, makeDocs(50))
  assertCorrupt(good.subarray(0, good.length - 7), id, /truncated/)
  assertCorrupt(Buffer.concat([good, Buffer.from([0x90])]), id, /appended/)
  const flipped = Buffer.from(good)
  const at = good.length - 20
  flipped[at] = (flipped[at] as number) ^ 0x10
  assertCorrupt(flipped, id, /checksum/)
  assertCorrupt(new Uint8Array(0), id, /empty/)
  assertCorrupt(Buffer.from('{"doc_id":"a","text":"b"}\n'), id, /not a leftright batch|does not decode/)
  assertCorrupt(good.subarray(0, 10), id, /decode|truncated|header/)
})

test('the worker moves corrupt files to bad/ with the reason beside them and processes the rest', async (t) => {
  const dir = tempDir(t)
  const layout = layoutOf(dir)
  await ensureLayout(layout)
  const goodId = newBatchId()
  await writeBatchFile(leftFile(layout, goodId), goodId, makeDocs(5))
  const broken = { truncated: newBatchId(), flipped: newBatchId(), empty: newBatchId() }
  const bytes = encodeBatch(broken.truncated, makeDocs(40))
  writeFileSync(leftFile(layout, broken.truncated), bytes.subarray(0, bytes.length - 5))
  const flipped = Buffer.from(encodeBatch(broken.flipped, makeDocs(40)))
  flipped[flipped.length - 3] = (flipped[flipped.length - 3] as number) ^ 0xff
  writeFileSync(leftFile(layout, broken.flipped), flipped)
  writeFileSync(leftFile(layout, broken.empty), '')

  const { runCli } = await import('../helpers.js')
  const run = runCli(t, ['work', '--once', '--data-dir', dir, '--recognizer', 'none', '--bad-grace-ms', '0'])
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  for (const [kind, id] of Object.entries(broken)) {
    const reason = JSON.parse(readFileSync(path.join(layout.bad, `${id}.reason.json`), 'utf8')) as {
      reason: string
    }
    assert.match(reason.reason, /truncated|checksum|empty/, kind)
    readFileSync(path.join(layout.bad, `${id}.msgpack`))
  }
  const setAsideLines = run.stdout.filter((l) => l.includes('set aside in bad/'))
  assert.equal(setAsideLines.length, 3, 'one log line per file set aside')
  assert.equal(
    readFileSync(path.join(layout.results, `${goodId}.jsonl`), 'utf8')
      .trim()
      .split('\n').length,
    5,
  )
})

test('rewriteBatchFile writes the same bytes over a batch file durably; a file already retired is left gone', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  const { file, data, id } = await writeNewBatch(layout, makeDocs(4), 'test', { durable: false })
  writeFileSync(file, 'damaged after a failed fsync')
  assert.equal(await rewriteBatchFile(file, data), true)
  assert.deepEqual(decodeBatch(readFileSync(file), id).docs, makeDocs(4))
  unlinkSync(file)
  assert.equal(await rewriteBatchFile(file, data), false)
  assert.equal(existsSync(file), false, 'not brought back: its documents were already done')
})

test('rewriteBatchFile never brings back a batch file retired while it runs', async (t) => {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  for (let i = 0; i < 20; i++) {
    const { file, data } = await writeNewBatch(layout, makeDocs(4), 'test', { durable: false })
    // Retired (claimed, done, deleted) after the rewrite has begun: on whichever side of
    // the rewrite's own steps the deletion lands, the file must stay gone, or that done
    // batch would run again.
    const rewriting = rewriteBatchFile(file, data)
    unlinkSync(file)
    await rewriting
    assert.equal(existsSync(file), false, `round ${i}: a retired batch file came back`)
  }
  assert.deepEqual(
    readdirSync(layout.left).filter((f) => f.startsWith('.tmp')),
    [],
    'no temp file left',
  )
})
