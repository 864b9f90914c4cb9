import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import type { Pool } from 'mysql2/promise'
import { createMysqlPool } from '../../src/adapters/mysql.js'
import { loadSettings } from '../../src/core/config.js'
import { createSourceTable } from '../../src/feed/source-table.js'
import { createResultTables } from '../../src/sink/mysql-tables.js'
import { runCli, tempDir } from '../helpers.js'
import { freshDatabase, freshTopic, kafkaClient, kafkaForFile } from '../services.js'

const kafka = kafkaForFile()

/** 100,000 source rows; every row whose id is divisible by 10 with remainder < 3 already has a result (30%). */
async function seed(url: string, pool: Pool): Promise<Set<string>> {
  const setup = createMysqlPool(url, 1)
  await createResultTables(setup, loadSettings({}, {}))
  await createSourceTable(setup, loadSettings({}, {}))
  await setup.end()
  const missing = new Set<string>()
  for (let start = 1; start <= 100_000; start += 5000) {
    const src: unknown[][] = []
    const done: unknown[][] = []
    for (let id = start; id < start + 5000; id++) {
      src.push([id, `m${id}`, `document ${id} about Beijing`])
      if (id % 10 < 3) done.push([`m${id}`, '[]', '[]', 'seed', 'seed'])
      else missing.add(`m${id}`)
    }
    await pool.query('INSERT INTO source_data (id, mid, content) VALUES ?', [src])
    if (done.length) {
      await pool.query(
        'INSERT INTO doc_ent_map (doc_id, ent_list_str, mapped_list_str, batch_id, host) VALUES ?',
        [done],
      )
    }
  }
  return missing
}

async function consumeAll(
  t: Parameters<typeof kafkaClient>[0],
  topic: string,
  expected: number,
): Promise<string[]> {
  const client = kafkaClient(t, kafka.broker)
  const consumer = await client.consumer(`verify-${topic}`, topic, { maxWaitMs: 200 })
  const ids: string[] = []
  const end = await client.endOffsets(topic)
  const total = [...end.values()].reduce((a, b) => a + b, 0n)
  assert.ok(total >= BigInt(expected), `topic holds ${total} messages`)
  await new Promise<void>((resolve) => {
    void consumer.run(async (ctx) => {
      for (const m of ctx.messages) ids.push((JSON.parse(String(m.value)) as { doc_id: string }).doc_id)
      const last = ctx.messages[ctx.messages.length - 1]?.offset as string
      await ctx.commit(last)
      if (BigInt(ids.length) >= total) resolve()
    })
  })
  await consumer.stop()
  return ids
}

test('dispatch over 100,000 rows with 30% processed sends exactly the 70,000 missing, across a kill and a rerun', async (t) => {
  const db = await freshDatabase(t, 'disp')
  const missing = await seed(db.url, db.pool)
  assert.equal(missing.size, 70_000)
  const topic = freshTopic('dispatch')
  const dir = tempDir(t)
  const env = {
    LR_MYSQL_URL: db.url,
    LR_KAFKA_BROKERS: kafka.broker,
    LR_KAFKA_TOPIC: topic,
    LR_DISPATCH_PAGE_SIZE: '500',
  }
  const first = runCli(t, ['dispatch', '--data-dir', dir], env)
  const cpFile = path.join(dir, 'state', `dispatch-source_data-kafka_${topic}.json`)
  // Kill it once a third or so has been acknowledged and checkpointed.
  for (;;) {
    const lastId = existsSync(cpFile)
      ? (JSON.parse(readFileSync(cpFile, 'utf8')) as { lastId: number }).lastId
      : 0
    if (lastId > 30_000) break
    if (first.child.exitCode !== null) assert.fail(`dispatch ended before the kill: ${first.stderr}`)
    await new Promise((r) => setTimeout(r, 10))
  }
  first.child.kill('SIGKILL')
  await first.exited
  const killedAt = (JSON.parse(readFileSync(cpFile, 'utf8')) as { lastId: number }).lastId
  assert.ok(killedAt < 100_000, `killed mid-way (checkpoint at id ${killedAt})`)

  const second = runCli(t, ['dispatch', '--data-dir', dir], env)
  assert.equal((await second.exited).code, 0, second.stderr)
  const ids = await consumeAll(t, topic, 70_000)
  const distinct = new Set(ids)
  assert.equal(distinct.size, 70_000, 'every missing row arrived')
  assert.ok(
    [...distinct].every((id) => missing.has(id)),
    'nothing already processed was sent',
  )
  // A kill between a page's acknowledgement and its checkpoint can resend that one page, no more.
  assert.ok(ids.length - 70_000 <= 500, `${ids.length - 70_000} duplicates (at most one page)`)
})

test('dispatch --to-left writes the missing rows as batch files and a rerun sends nothing more', async (t) => {
  const db = await freshDatabase(t, 'displeft')
  const setup = createMysqlPool(db.url, 1)
  await createResultTables(setup, loadSettings({}, {}))
  await createSourceTable(setup, loadSettings({}, {}))
  await setup.end()
  const rows = Array.from({ length: 1000 }, (_, i) => [i + 1, `m${i + 1}`, `text ${i}`])
  await db.pool.query('INSERT INTO source_data (id, mid, content) VALUES ?', [rows])
  await db.pool.query(
    'INSERT INTO doc_ent_map (doc_id, ent_list_str, mapped_list_str, batch_id, host) VALUES ?',
    [[['m5', '[]', '[]', 's', 's']]],
  )
  const dir = tempDir(t)
  const env = { LR_MYSQL_URL: db.url, LR_BATCH_SIZE: '100' }
  for (let run = 0; run < 2; run++) {
    const r = runCli(t, ['dispatch', '--to-left', '--data-dir', dir], env)
    assert.equal((await r.exited).code, 0, r.stderr)
  }
  const status = runCli(t, ['status', '--json', '--data-dir', dir])
  await status.exited
  const snap = JSON.parse(status.stdout.join('')) as { docs: { pending: number } }
  assert.equal(snap.docs.pending, 999)
})
