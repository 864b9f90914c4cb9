import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import type { RowDataPacket } from 'mysql2/promise'
import { logRecords, runCli, tempDir, writeJsonl } from '../helpers.js'
import { freshDatabase } from '../services.js'

// Issue "Nothing lost", item 1: a doc_id is an opaque string compared byte for byte.
const variants = ['CaseDoc', 'casedoc', 'pad', 'pad ', 'café', 'cafe']

test('six doc_ids that differ only in case, a trailing space or an accent are six rows, each with its own text', async (t) => {
  const db = await freshDatabase(t, 'ident')
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(
    input,
    variants.map((id, i) => ({ doc_id: id, text: i % 2 ? `Alibaba ${i}` : `Hangzhou ${i}` })),
  )
  assert.equal((await runCli(t, ['enqueue', input, '--data-dir', dir]).exited).code, 0)
  const run = runCli(t, ['start', '--once', '--data-dir', dir, '--recognizer', 'dictionary'], {
    LR_MYSQL_URL: db.url,
  })
  assert.equal((await run.exited).code, 0, run.stderr)
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT doc_id, ent_list_str FROM doc_ent_map')
  const got = new Map(rows.map((r) => [Buffer.from(r.doc_id).toString('utf8'), String(r.ent_list_str)]))
  assert.deepEqual([...got.keys()].sort(), [...variants].sort())
  variants.forEach((id, i) => {
    assert.match(
      got.get(id) ?? '',
      i % 2 ? /Alibaba/ : /Hangzhou/,
      `${JSON.stringify(id)} kept its own entities`,
    )
  })
})

test('a doc_id sent twice is a re-send: one row, the last one processed wins, and the batch says so', async (t) => {
  const db = await freshDatabase(t, 'resend')
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, [
    { doc_id: 'a', text: 'first Hangzhou' },
    { doc_id: 'b', text: 'b' },
    { doc_id: 'a', text: 'second Alibaba' },
  ])
  assert.equal((await runCli(t, ['enqueue', input, '--data-dir', dir]).exited).code, 0)
  const run = runCli(t, ['start', '--once', '--data-dir', dir, '--recognizer', 'dictionary'], {
    LR_MYSQL_URL: db.url,
  })
  assert.equal((await run.exited).code, 0, run.stderr)
  const [rows] = await db.pool.query<RowDataPacket[]>(
    'SELECT doc_id, ent_list_str FROM doc_ent_map ORDER BY doc_id',
  )
  assert.equal(rows.length, 2)
  assert.match(String(rows[0]?.ent_list_str), /Alibaba/, 'the later document won')
  const said = logRecords(run.stdout).filter((r) => String(r.msg).includes('repeated doc_id'))
  assert.equal(said.length, 1, 'one line for the batch that carried the repeat')
  assert.equal(said[0]?.repeats, 1)
  const status = runCli(t, ['status', '--json', '--data-dir', dir])
  await status.exited
  const snap = JSON.parse(status.stdout.join('\n')) as { docs: { repeats: number } }
  assert.equal(snap.docs.repeats, 1)
})
