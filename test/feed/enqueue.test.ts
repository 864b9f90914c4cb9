import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import pino from 'pino'
import { enqueueFiles } from '../../src/feed/enqueue.js'
import { readBatchFile } from '../../src/store/batch-file.js'
import { leftFile } from '../../src/store/layout.js'
import { freshLayout } from '../work/fixtures.js'

test('enqueue: packed or parsed, every line gives what JSON.parse gives; bad and blank lines as before', async (t) => {
  const layout = await freshLayout(t)
  const good = [
    { doc_id: 'a', text: 'plain' },
    { doc_id: 'b', text: 'line\nbreak, "quotes", \\ and \u00e9 \ud83d\ude00' },
    {
      doc_id: 'c',
      text: '杭州 🚀',
      lang: 'zh',
      meta: { n: 1, f: 0.5, ok: true, none: null, list: [1, 'x'] },
    },
    { doc_id: 'd'.repeat(50), text: 'the longest doc_id' },
    { doc_id: '文'.repeat(20), text: '60 bytes of doc_id but 20 characters: the long way takes it' },
  ]
  const lines = [
    JSON.stringify(good[0]),
    '',
    `  ${JSON.stringify(good[1])}  `,
    'not json {',
    '   \t ',
    JSON.stringify(good[2]),
    '{"doc_id":"x","text":"x","doc_id":"y"}',
    JSON.stringify(good[3]),
    '{"doc_id":"e","text":"tab\tinside"}',
    JSON.stringify(good[4]),
    '{"text":"no id"}',
  ]
  const file = path.join(layout.root, 'in.jsonl')
  // CRLF for some lines, LF for others, no break after the last.
  writeFileSync(
    file,
    lines
      .map((l, i) => (i % 2 ? `${l}\r\n` : `${l}\n`))
      .join('')
      .trimEnd(),
  )
  const result = await enqueueFiles([file], {
    layout,
    batchSize: 2,
    maxTextBytes: 1_000_000,
    log: pino({ level: 'silent' }),
  })
  assert.equal(result.lines, 9, 'blank lines are not counted')
  // The duplicate key keeps its last value, as JSON.parse does (the long way).
  const expected = [...good.slice(0, 3), { doc_id: 'y', text: 'x' }, good[3], good[4]]
  assert.equal(result.docs, expected.length)
  const batches = await Promise.all(
    readdirSync(layout.left)
      .filter((f) => !f.startsWith('.'))
      .map((f) => readBatchFile(leftFile(layout, f.replace('.msgpack', '')), f)),
  )
  const docs = batches.flatMap((b) => b.docs)
  assert.equal(docs.length, expected.length)
  assert.deepEqual(
    new Set(docs.map((d) => JSON.stringify(d))),
    new Set(expected.map((d) => JSON.stringify(d))),
  )
  const dead = readdirSync(layout.dead).map((f) =>
    JSON.parse(readFileSync(path.join(layout.dead, f), 'utf8')),
  )
  assert.deepEqual(
    dead.map((d) => d.source.line).sort((x: number, y: number) => x - y),
    [4, 9, 11],
    'the line numbers count blank lines and both kinds of break',
  )
  assert.ok(dead.every((d) => typeof d.reason === 'string' && d.reason.length > 0))
})
