import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import pino from 'pino'
import { EnqueueThread } from '../../src/feed/enqueue-thread.js'
import { progressLine } from '../../src/work/progress.js'
import { makeDocs, tempDir, writeJsonl } from '../helpers.js'

test('the progress line says how far the input has been read while start FILE still reads it', () => {
  const work = { batches: 120, docs: 12_000, docsPerSecond: 2_400, pending: 30, active: 4 }
  const reading = progressLine(work, [], {
    bytesRead: 8_500_000,
    totalBytes: 20_000_000,
    docs: 15_000,
    batches: 150,
  })
  assert.equal(
    reading.msg,
    'progress: 120 batches, 12000 documents done; 30 batches waiting; input 42% read (15000 documents in 150 batches)',
  )
  assert.deepEqual(reading.fields.input, {
    bytesRead: 8_500_000,
    totalBytes: 20_000_000,
    docs: 15_000,
    batches: 150,
  })
  // A pipe has no size: what was read, in documents.
  const piped = progressLine(work, ['sink'], { bytesRead: 1_000, totalBytes: 0, docs: 10, batches: 1 })
  assert.match(piped.msg, /; waiting on: sink; input: 10 documents in 1 batches read so far$/)
  const plain = progressLine(work, [], null)
  assert.equal(plain.msg, 'progress: 120 batches, 12000 documents done; 30 batches waiting')
  assert.equal(plain.fields.input, undefined)
})

test('the enqueue thread reports its progress as it reads, and none once it has ended', async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(500))
  const seen: number[] = []
  const thread: EnqueueThread = new EnqueueThread(
    { files: [input], dataDir: dir, batchSize: 50, maxTextBytes: 1_000_000, logLevel: 'warn' },
    {
      log: pino({ level: 'silent' }),
      // Each batch id arrives after the progress report of the batch before it.
      onBatch: () => {
        const p = thread.progress
        if (p) seen.push(p.docs)
      },
    },
  )
  await thread.start()
  const end = await thread.ended
  assert.equal(end.kind, 'done')
  assert.equal(thread.progress, null, 'no progress once the thread has ended')
  assert.ok(seen.length > 0, 'progress seen while the thread read')
  assert.ok(
    seen.every((docs) => docs >= 50 && docs <= 500 && docs % 50 === 0),
    seen.join(','),
  )
})
