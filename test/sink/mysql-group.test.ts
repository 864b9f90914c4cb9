import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { RowDataPacket } from 'mysql2/promise'
import pino from 'pino'
import { loadSettings } from '../../src/core/config.js'
import type { DocResult } from '../../src/core/contracts.js'
import { SinkError } from '../../src/core/errors.js'
import { MysqlSink } from '../../src/sink/mysql-sink.js'
import { freshDatabase, TcpProxy } from '../services.js'

// Issue 14: several batches' rows per MySQL commit (group commit across workers).

const results = (batch: string, n: number, docId = (i: number) => `${batch}-${i}`): DocResult[] =>
  Array.from({ length: n }, (_, i) => ({
    doc_id: docId(i),
    batch_id: batch,
    entities: [{ text: 'Alibaba', type: 'ORG', start: 0, end: 7, source: 'service' }],
    mapped: [{ text: 'Alibaba', type: 'ORG', id: 'Q1' }],
  }))

const silent = pino({ level: 'silent' })

async function sinkFor(t: import('node:test').TestContext, url: string, workers = 8): Promise<MysqlSink> {
  const sink = new MysqlSink(loadSettings({}, { LR_MYSQL_URL: url, LR_WORKERS: String(workers) }), silent)
  t.after(() => sink.close())
  await sink.init()
  return sink
}

const rowsOf = async (pool: import('mysql2/promise').Pool) =>
  (await pool.query<RowDataPacket[]>('SELECT doc_id, batch_id FROM doc_ent_map ORDER BY doc_id'))[0]

test('writes that arrive together share commits: 24 batches from 8 writers in fewer than 24 commits, every row once', async (t) => {
  const db = await freshDatabase(t, 'group')
  const sink = await sinkFor(t, db.url)
  const batches = Array.from({ length: 24 }, (_, i) => `b${String(i).padStart(2, '0')}`)
  // 8 writers, 3 batches each, as 8 worker loops would.
  await Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      for (const b of batches.filter((_, i) => i % 8 === w)) await sink.write(b, results(b, 50))
    }),
  )
  const rows = await rowsOf(db.pool)
  assert.equal(rows.length, 24 * 50)
  assert.equal(new Set(rows.map((r) => r.doc_id)).size, 24 * 50)
  for (const r of rows) assert.equal(r.batch_id, String(r.doc_id).split('-')[0])
  assert.ok(sink.commits >= 1 && sink.commits < 24, `${sink.commits} commits for 24 batches`)
  // Written again (a redo after a crash): still one row per document.
  await Promise.all(batches.slice(0, 8).map((b) => sink.write(b, results(b, 50))))
  assert.equal((await rowsOf(db.pool)).length, 24 * 50)
})

test('a batch whose rows the table refuses fails alone: the batches grouped with it are stored', async (t) => {
  const db = await freshDatabase(t, 'groupbad')
  const sink = await sinkFor(t, db.url)
  // A doc_id longer than the column (50): strict mode refuses the statement.
  const bad = results('bad', 3, (i) => `${'x'.repeat(60)}${i}`)
  const outcomes = await Promise.allSettled([
    sink.write('g1', results('g1', 20)),
    sink.write('g2', results('g2', 20)),
    sink.write('bad', bad),
    sink.write('g3', results('g3', 20)),
    sink.write('g4', results('g4', 20)),
  ])
  const failed = outcomes.flatMap((o, i) =>
    o.status === 'rejected' ? [{ i, err: o.reason as unknown }] : [],
  )
  assert.deepEqual(
    failed.map((f) => f.i),
    [2],
  )
  const err = failed[0]?.err
  assert.ok(err instanceof SinkError)
  assert.match(err.message, /batch bad: inserting 3 rows/)
  assert.equal((await rowsOf(db.pool)).length, 80)
})

test('the connection dropped under a group: every write in it fails retryably, none half-stored; then they go in', async (t) => {
  const db = await freshDatabase(t, 'groupdrop')
  const proxy = new TcpProxy()
  await proxy.up()
  t.after(() => proxy.down())
  const url = db.url.replace(':3306/', `:${proxy.port}/`)
  const sink = await sinkFor(t, url)
  await proxy.down()
  const outcomes = await Promise.allSettled(['d1', 'd2', 'd3'].map((b) => sink.write(b, results(b, 10))))
  for (const o of outcomes) {
    assert.equal(o.status, 'rejected')
    const err = (o as PromiseRejectedResult).reason as unknown
    assert.ok(err instanceof SinkError, String(err))
    assert.equal(err.retryable, true, err.message)
  }
  assert.equal((await rowsOf(db.pool)).length, 0)
  await proxy.up()
  await Promise.all(['d1', 'd2', 'd3'].map((b) => sink.write(b, results(b, 10))))
  assert.equal((await rowsOf(db.pool)).length, 30)
})

test('values arrive byte for byte: quotes, backslashes, control characters, placeholders and emoji in ids and entities', async (t) => {
  const db = await freshDatabase(t, 'bytes')
  const sink = await sinkFor(t, db.url)
  const odd = [
    'O\'Brien "Q" \\ \\\' ?? ?',
    'line\nbreak\ttab\r\0nul\x1aend',
    '杭州 🚀 ä',
    "'); DROP TABLE doc_ent_map; --",
  ]
  const docs: DocResult[] = odd.map((text, i) => ({
    doc_id: `${text.slice(0, 20)}#${i}`,
    batch_id: "b'1",
    entities: [{ text, type: 'ORG', start: 0, end: text.length, source: 'service' }],
    mapped: [{ text, type: 'ORG', id: `Q\\${i}'` }],
  }))
  await Promise.all([sink.write("b'1", docs.slice(0, 2)), sink.write("b'1", docs.slice(2))])
  const [rows] = await db.pool.query<RowDataPacket[]>(
    'SELECT doc_id, ent_list_str, mapped_list_str, batch_id FROM doc_ent_map',
  )
  assert.equal(rows.length, odd.length)
  for (const d of docs) {
    const row = rows.find((r) => r.doc_id === d.doc_id)
    assert.ok(row, `row for ${JSON.stringify(d.doc_id)}`)
    assert.equal(row.batch_id, "b'1")
    assert.equal(JSON.parse(row.ent_list_str)[0].text, d.entities[0]?.text)
    assert.equal(JSON.parse(row.mapped_list_str)[0].id, d.mapped[0]?.id)
  }
})
