import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import pino from 'pino'
import { BoundedCache } from '../../src/map/bounded-cache.js'
import { MysqlMapper } from '../../src/map/mysql-mapper.js'
import { runCli, tempDir, writeJsonl } from '../helpers.js'
import { freshDatabase } from '../services.js'

const silent = pino({ level: 'silent' })

function seedTsv(dir: string): string {
  const file = path.join(dir, 'seed.tsv')
  writeFileSync(file, '# surface\tid\ttype\nJack Ma\tQ1\tPER\nHangzhou\tQ2\tLOC\n')
  return file
}

test('BoundedCache keeps the most recently used entries only', () => {
  const c = new BoundedCache<string, number>(3)
  for (const k of ['a', 'b', 'c']) c.set(k, k.charCodeAt(0))
  assert.equal(c.get('a'), 97) // a is now the most recent
  c.set('d', 100) // evicts b, the least recent
  assert.equal(c.size, 3)
  assert.equal(c.has('b'), false)
  assert.deepEqual(
    ['a', 'c', 'd'].map((k) => c.has(k)),
    [true, true, true],
  )
})

test('entity_dict: created and seeded when missing, one query per batch, bounded cache', async (t) => {
  const db = await freshDatabase(t, 'map')
  const dir = tempDir(t)
  const mapper = new MysqlMapper({
    url: db.url,
    table: 'entity_dict',
    cacheEntries: 50,
    seedFile: seedTsv(dir),
    log: silent,
  })
  t.after(() => mapper.close())
  await mapper.init()
  const [seeded] = await db.pool.query('SELECT surface, canonical_id FROM entity_dict ORDER BY surface')
  assert.deepEqual(seeded, [
    { surface: 'hangzhou', canonical_id: 'Q2' },
    { surface: 'jack ma', canonical_id: 'Q1' },
  ])
  // Reference data the users maintain in MySQL, beyond the seed.
  const rows = Array.from({ length: 40 }, (_, i) => [`name ${i}`, `C${i}`, 'ORG'])
  await db.pool.query('INSERT INTO entity_dict (surface, canonical_id, type) VALUES ?', [rows])

  const batch = [...Array.from({ length: 40 }, (_, i) => `Name  ${i}`), 'JACK MA', 'Nobody Known']
  const got = await mapper.lookupMany(batch)
  assert.equal(mapper.stats.queries, 1, 'one query for the whole batch')
  assert.equal(got.get('name 7'), 'C7')
  assert.equal(got.get('jack ma'), 'Q1')
  assert.equal(got.get('nobody known'), null, 'unknown surfaces map to null, not an error')

  // The same surfaces again: all from the cache (the unknown one too).
  const again = await mapper.lookupMany(['Name 3', 'Nobody Known', 'jack ma'])
  assert.equal(mapper.stats.queries, 1)
  assert.equal(again.get('name 3'), 'C3')

  // More distinct surfaces than the cache holds: it stays at its bound.
  await mapper.lookupMany(Array.from({ length: 120 }, (_, i) => `other ${i}`))
  assert.equal(mapper.stats.queries, 2)
  assert.ok(mapper.cacheSize <= 50, `cache holds ${mapper.cacheSize} entries`)

  // A second mapper finds the table there and does not seed again (edits kept).
  await db.pool.query("UPDATE entity_dict SET canonical_id = 'Q1-new' WHERE surface = 'jack ma'")
  const second = new MysqlMapper({
    url: db.url,
    table: 'entity_dict',
    cacheEntries: 10,
    seedFile: seedTsv(dir),
    log: silent,
  })
  t.after(() => second.close())
  await second.init()
  assert.equal((await second.lookupMany(['Jack Ma'])).get('jack ma'), 'Q1-new')
})

test('start with MySQL maps entities from entity_dict into doc_ent_map', async (t) => {
  const db = await freshDatabase(t, 'mape2e')
  const dir = tempDir(t)
  const env = {
    LR_DATA_DIR: path.join(dir, 'data'),
    LR_MYSQL_URL: db.url,
    LR_RECOGNIZER: 'dictionary',
    LR_ENTITIES: seedTsv(dir),
    LR_WORKERS: '2',
  }
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, [
    { doc_id: 'a', text: 'Jack Ma visited Hangzhou.' },
    { doc_id: 'b', text: 'Hangzhou again.' },
  ])
  const enq = runCli(t, ['enqueue', input], env)
  assert.equal((await enq.exited).code, 0)
  // No entity_dict yet: start creates it and fills it from LR_ENTITIES.
  const run = runCli(t, ['start', '--once'], env)
  assert.equal((await run.exited).code, 0, run.stderr)
  const [rows] = await db.pool.query('SELECT doc_id, mapped_list_str FROM doc_ent_map ORDER BY doc_id')
  const mapped = (rows as { doc_id: string; mapped_list_str: string }[]).map((r) => ({
    doc_id: r.doc_id,
    ids: (JSON.parse(r.mapped_list_str) as { id: string | null }[]).map((m) => m.id).sort(),
  }))
  assert.deepEqual(mapped, [
    { doc_id: 'a', ids: ['Q1', 'Q2'] },
    { doc_id: 'b', ids: ['Q2'] },
  ])
  const [dict] = await db.pool.query('SELECT COUNT(*) AS n FROM entity_dict')
  assert.equal((dict as { n: number }[])[0]?.n, 2)

  // Reference data edited in MySQL is what the next run maps to.
  await db.pool.query("UPDATE entity_dict SET canonical_id = 'HZ' WHERE surface = 'hangzhou'")
  writeJsonl(input, [{ doc_id: 'c', text: 'Hangzhou once more.' }])
  assert.equal((await runCli(t, ['enqueue', input], env).exited).code, 0)
  assert.equal((await runCli(t, ['start', '--once'], env).exited).code, 0)
  const [c] = await db.pool.query("SELECT mapped_list_str FROM doc_ent_map WHERE doc_id = 'c'")
  assert.match((c as { mapped_list_str: string }[])[0]?.mapped_list_str ?? '', /"HZ"/)
})
