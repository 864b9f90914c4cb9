import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import type { RowDataPacket } from 'mysql2/promise'
import { startMockGpu } from '../../scripts/mock-gpu.js'
import { makeDocs, runCli, tempDir } from '../helpers.js'
import { freshDatabase } from '../services.js'

// Issue "Drop into the users' existing setup": the original scripts' tables, their service.

async function originalTables(pool: import('mysql2/promise').Pool): Promise<void> {
  await pool.query(`CREATE TABLE source_data (
    id INT AUTO_INCREMENT PRIMARY KEY, mid VARCHAR(50), content TEXT, created DATETIME DEFAULT CURRENT_TIMESTAMP
  ) DEFAULT CHARSET=utf8mb4`)
  await pool.query(`CREATE TABLE doc_ent_map (
    id INT AUTO_INCREMENT PRIMARY KEY, doc_id VARCHAR(50), ent_list_str TEXT, mapped_list_str TEXT,
    create_time DATETIME, KEY idx_doc_id (doc_id), KEY idx_create_time (create_time)
  ) DEFAULT CHARSET=utf8mb4`)
  const docs = makeDocs(200)
  await pool.query('INSERT INTO source_data (mid, content) VALUES ?', [docs.map((d) => [d.doc_id, d.text])])
  await pool.query('INSERT INTO source_data (mid, content) VALUES (NULL, ?), (?, NULL), (?, ?)', [
    'no id',
    'doc-no-content',
    '',
    'empty id',
  ])
  // The scripts inserted some documents twice: older copies first (lower ids).
  await pool.query('INSERT INTO doc_ent_map (doc_id, ent_list_str, mapped_list_str, create_time) VALUES ?', [
    docs.slice(0, 20).map((d) => [d.doc_id, 'old', 'old', '2024-06-01 00:00:00']),
  ])
  await pool.query('INSERT INTO doc_ent_map (doc_id, ent_list_str, mapped_list_str, create_time) VALUES ?', [
    docs.slice(0, 100).map((d) => [d.doc_id, 'Jack Ma,Alibaba', 'Q1,Q2', '2025-01-01 00:00:00']),
  ])
}

const count = async (pool: import('mysql2/promise').Pool, sql: string): Promise<number> =>
  Number(((await pool.query<RowDataPacket[]>(sql))[0][0] as RowDataPacket).n)

test('the original tables: doctor names the misfit, migrate plans then fixes it once, then the backlog fills in as lists with the service mapping', async (t) => {
  const db = await freshDatabase(t, 'adopt')
  await originalTables(db.pool)
  const dir = tempDir(t)
  const env = { LR_MYSQL_URL: db.url }

  const doctor = runCli(t, ['doctor', '--data-dir', dir], env)
  assert.equal((await doctor.exited).code, 1)
  assert.match(
    doctor.stdout.join('\n'),
    /FAIL {2}mysql: .*table doc_ent_map does not fit: missing columns batch_id, host; .*no unique key on doc_id/,
  )
  assert.match(doctor.stdout.join('\n'), /leftright migrate/)

  // start refuses at once with one line, instead of retrying every batch forever.
  const refused = runCli(t, ['start', '--once', '--data-dir', dir], env)
  assert.equal((await refused.exited).code, 1)
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr)
  assert.match(refused.stderr, /doc_ent_map does not fit.*leftright migrate/)

  const plan = runCli(t, ['migrate'], env)
  assert.equal((await plan.exited).code, 0, plan.stderr)
  const planText = plan.stdout.join('\n')
  assert.match(planText, /ADD COLUMN `batch_id`/)
  assert.match(planText, /COLLATE utf8mb4_(nopad|0900)_bin/)
  assert.match(planText, /20 rows repeat a doc_id/)
  assert.match(planText, /ADD UNIQUE KEY/)
  assert.match(planText, /nothing was changed/)
  assert.equal(await count(db.pool, 'SELECT COUNT(*) AS n FROM doc_ent_map'), 120, 'the plan changed nothing')

  const apply = runCli(t, ['migrate', '--apply'], env)
  assert.equal((await apply.exited).code, 0, apply.stderr)
  assert.match(
    apply.stdout.join('\n'),
    /applied \d+ statements; 20 duplicate rows kept in doc_ent_map_duplicates/,
  )
  assert.equal(await count(db.pool, 'SELECT COUNT(*) AS n FROM doc_ent_map'), 100)
  assert.equal(
    await count(db.pool, "SELECT COUNT(*) AS n FROM doc_ent_map_duplicates WHERE ent_list_str = 'old'"),
    20,
  )
  const again = runCli(t, ['migrate', '--apply'], env)
  assert.equal((await again.exited).code, 0)
  assert.match(again.stdout.join('\n'), /nothing to change/)

  // Dispatch the backlog (rows that cannot be documents are set aside), then work it.
  const dispatch = runCli(t, ['dispatch', '--to-left', '--data-dir', dir], env)
  assert.equal((await dispatch.exited).code, 0, dispatch.stderr)
  const dead = readdirSync(path.join(dir, 'dead')).map((f) =>
    JSON.parse(readFileSync(path.join(dir, 'dead', f), 'utf8')),
  )
  assert.deepEqual(dead.map((d) => d.reason).sort(), ['content is NULL', 'mid is NULL', 'mid is empty'])
  // The service maps with its own ids, which leftright's dictionary does not have.
  const tsv = path.join(dir, 'service.tsv')
  writeFileSync(tsv, 'Jack Ma\tSVC-JM\tPER\nAlibaba\tSVC-ALI\tORG\nHangzhou\tSVC-HZ\tLOC\n')
  const gpu = await startMockGpu({ port: 0, capacity: 4, callMs: 5, entitiesPath: tsv })
  t.after(() => gpu.close())
  const run = runCli(t, ['start', '--once', '--data-dir', dir], { ...env, LR_NER_URL: gpu.url })
  assert.equal((await run.exited).code, 0, run.stderr)
  assert.equal(
    await count(db.pool, 'SELECT COUNT(*) AS n FROM doc_ent_map'),
    200,
    'exactly the missing documents',
  )
  const [news] = await db.pool.query<RowDataPacket[]>(
    "SELECT ent_list_str AS e, mapped_list_str AS m FROM doc_ent_map WHERE doc_id = 'doc-100'",
  )
  assert.deepEqual(
    [String(news[0]?.e), String(news[0]?.m)],
    ['Jack Ma,Alibaba,Hangzhou', 'SVC-JM,SVC-ALI,SVC-HZ'],
  )
  const [olds] = await db.pool.query<RowDataPacket[]>(
    "SELECT ent_list_str AS e, DATE_FORMAT(create_time, '%Y') AS y FROM doc_ent_map WHERE doc_id = 'doc-4'",
  )
  assert.deepEqual(
    [String(olds[0]?.e), String(olds[0]?.y)],
    ['Jack Ma,Alibaba', '2025'],
    'old rows keep their values',
  )
})

test('a permanent MySQL error during the run (unknown column) stops the workers with one line and exit 1', async (t) => {
  const db = await freshDatabase(t, 'badcol')
  // An entity_dict without the column the mapping stage reads: every lookup fails the same way.
  await db.pool.query('CREATE TABLE entity_dict (surface VARCHAR(255) PRIMARY KEY, type VARCHAR(8))')
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeFileSync(
    input,
    `${makeDocs(300)
      .map((d) => JSON.stringify(d))
      .join('\n')}\n`,
  )
  assert.equal((await runCli(t, ['enqueue', input, '--data-dir', dir]).exited).code, 0)
  const run = runCli(t, ['start', '--once', '--data-dir', dir, '--recognizer', 'dictionary'], {
    LR_MYSQL_URL: db.url,
  })
  const { code } = await run.exited
  assert.equal(code, 1)
  const errors = run.stdout.filter((l) => l.includes('"level":50'))
  assert.equal(errors.length, 1, errors.join('\n'))
  assert.match(errors[0] as string, /workers stopped: .*ER_BAD_FIELD_ERROR/)
  assert.equal(readdirSync(path.join(dir, 'left')).length, 3, 'every batch waits for the fix')
  assert.ok(
    readdirSync(path.join(dir, 'right')).every(
      (f) => JSON.parse(readFileSync(path.join(dir, 'right', f), 'utf8')).state !== 'claimed',
    ),
    'no claim left',
  )
})
