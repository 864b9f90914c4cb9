import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { test } from 'node:test'
import type { Recognizer } from '../../src/core/contracts.js'
import { BatchCorruptError, MappingError, RecognizeError, SinkError } from '../../src/core/errors.js'
import { leftFile } from '../../src/store/layout.js'
import { processBatch } from '../../src/work/process-batch.js'
import {
  batchOf,
  captureLog,
  freshLayout,
  MemorySink,
  pipelineDeps,
  ScriptedMapper,
  ScriptedRecognizer,
} from './fixtures.js'

const never = new AbortController().signal
const overload = () => new RecognizeError('503', { retryable: true, overload: true, status: 503 })

test('a recognition call refused twice is retried and every document is stored', async (t) => {
  const layout = await freshLayout(t)
  const { id } = await batchOf(layout, 4)
  const recognizer = new ScriptedRecognizer((call) => {
    if (call <= 2) throw overload()
  })
  const sink = new MemorySink()
  const deps = pipelineDeps(layout, { recognizer, sink })
  const out = await processBatch(deps, id, never)
  assert.deepEqual(out, { docs: 4, ok: 4, failed: 0, repeats: 0, recognized: 4 })
  assert.equal(recognizer.calls, 3)
  assert.deepEqual(deps.errors, ['overload', 'overload'])
  assert.equal(sink.rows.get('d-0')?.mapped[0]?.id, 'Q-hangzhou')
})

test('a bug in the recognizer (a TypeError) is not retried: its documents go to dead/ with the reason', async (t) => {
  const layout = await freshLayout(t)
  const { id } = await batchOf(layout, 6)
  const recognizer = new ScriptedRecognizer((call) => {
    if (call === 1) throw new TypeError('cannot read properties of undefined')
  })
  const sink = new MemorySink()
  const out = await processBatch(pipelineDeps(layout, { recognizer, sink }), id, never)
  // 6 documents, 4 per call: the first call's 4 fail once, the second call's 2 succeed.
  assert.deepEqual(out, { docs: 6, ok: 2, failed: 4, repeats: 0, recognized: 6 })
  assert.equal(recognizer.calls, 2, 'the failed call was not retried')
  const dead = readdirSync(layout.dead).filter((f) => f.endsWith('.json'))
  assert.equal(dead.length, 4)
  const entry = JSON.parse(readFileSync(`${layout.dead}/${dead[0]}`, 'utf8')) as { reason: string }
  assert.match(entry.reason, /TypeError|cannot read properties/)
  assert.equal(sink.failures.length, 4)
})

test('a transient mapping failure is retried and logged as mapping, not as the sink', async (t) => {
  const layout = await freshLayout(t)
  const { id } = await batchOf(layout, 2)
  const { log, lines } = captureLog()
  const mapper = new ScriptedMapper((call) => {
    if (call === 1) throw new MappingError('mapping lookup: ECONNREFUSED', { retryable: true })
  })
  const out = await processBatch(pipelineDeps(layout, { mapper, log }), id, never)
  assert.equal(out.ok, 2)
  const retries = lines.filter((l) => String(l.msg).includes('will retry'))
  assert.equal(retries.length, 1)
  assert.equal(retries[0]?.msg, 'mapping failed; will retry')
  assert.equal(
    (retries[0]?.err as { type?: string } | undefined)?.type,
    'MappingError',
    'the error is logged as an object',
  )
})

test('a permanent sink error and a bug in the sink end the batch at once instead of retrying forever', async (t) => {
  const layout = await freshLayout(t)
  for (const err of [
    new SinkError("Unknown column 'batch_id'", { retryable: false, driverCode: 'ER_BAD_FIELD_ERROR' }),
    new TypeError('rows.map is not a function'),
  ]) {
    const { id } = await batchOf(layout, 2)
    const sink = new MemorySink(() => {
      throw err
    })
    await assert.rejects(processBatch(pipelineDeps(layout, { sink }), id, never), err)
    assert.equal(sink.writes, 1)
  }
})

test('a transient sink error is retried with the recognition kept: the recognizer is called once', async (t) => {
  const layout = await freshLayout(t)
  const { id } = await batchOf(layout, 3)
  const recognizer = new ScriptedRecognizer()
  const sink = new MemorySink((write) => {
    if (write < 3) throw new SinkError('ECONNRESET', { retryable: true })
  })
  const out = await processBatch(pipelineDeps(layout, { recognizer, sink }), id, never)
  assert.equal(out.ok, 3)
  assert.equal(sink.writes, 3)
  assert.equal(recognizer.calls, 1)
})

test('a damaged batch file is refused before any recognition call', async (t) => {
  const layout = await freshLayout(t)
  const { id } = await batchOf(layout, 3)
  const file = leftFile(layout, id)
  const data = readFileSync(file)
  writeFileSync(file, data.subarray(0, data.length - 5))
  const recognizer = new ScriptedRecognizer()
  await assert.rejects(processBatch(pipelineDeps(layout, { recognizer }), id, never), BatchCorruptError)
  assert.equal(recognizer.calls, 0)
})

test('stopping during retries gives the batch back (aborted), and the saved milestone spares the GPU next time', async (t) => {
  const layout = await freshLayout(t)
  const { id } = await batchOf(layout, 2)
  const recognizer = new ScriptedRecognizer()
  const stop = new AbortController()
  const sink = new MemorySink(() => {
    stop.abort()
    throw new SinkError('ECONNREFUSED', { retryable: true })
  })
  await assert.rejects(processBatch(pipelineDeps(layout, { recognizer, sink }), id, stop.signal), {
    code: 'LR_ABORTED',
  })
  assert.equal(readdirSync(layout.milestones).length, 1)
  const again = new MemorySink()
  await processBatch(pipelineDeps(layout, { recognizer, sink: again }), id, never)
  assert.equal(recognizer.calls, 1, 'the milestone stood for the recognition')
  assert.equal(again.rows.size, 2)
})

test("the service's mapping is of record; the mapping stage fills in only what it left empty", async (t) => {
  const layout = await freshLayout(t)
  const { id } = await batchOf(layout, 2)
  const recognizer: Recognizer = {
    kind: 'service',
    async recognize(docs) {
      return docs.map((d, i) => ({
        doc_id: d.doc_id,
        entities: [
          { text: 'Hangzhou', type: 'LOC', start: 0, end: 8, source: 'service' },
          { text: 'Alibaba', type: 'ORG', start: 9, end: 16, source: 'service' },
        ],
        // The first document's service mapped both; the second's left Alibaba unmapped.
        mapped: i === 0 ? ['S-HZ', 'S-ALI'] : ['S-HZ', null],
      }))
    },
    async close() {},
  }
  const asked: string[] = []
  const mapper = new ScriptedMapper()
  const lookup = mapper.lookupMany.bind(mapper)
  mapper.lookupMany = (surfaces) => {
    asked.push(...surfaces)
    return lookup(surfaces)
  }
  const sink = new MemorySink()
  await processBatch(pipelineDeps(layout, { recognizer, mapper, sink }), id, never)
  assert.deepEqual(
    sink.rows.get('d-0')?.mapped.map((m) => m.id),
    ['S-HZ', 'S-ALI'],
  )
  assert.deepEqual(
    sink.rows.get('d-1')?.mapped.map((m) => m.id),
    ['S-HZ', 'Q-alibaba'],
  )
  assert.deepEqual(asked, ['Alibaba'], 'only what the service left unmapped is looked up')
})
