import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { pack } from 'msgpackr'
import type { Pool, RowDataPacket } from 'mysql2/promise'
import { runCli, tempDir } from '../helpers.js'
import { AMQP_URL, freshDatabase, freshQueue, freshStream, REDIS_URL } from '../services.js'

const text = (i: number): string => `Jack Ma met Tim Cook in Beijing (${i}).`

async function rowStats(pool: Pool): Promise<{ rows: number; distinct: number; ids: Set<string> }> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT doc_id FROM doc_ent_map')
  const ids = new Set(rows.map((r) => String(r.doc_id)))
  return { rows: rows.length, distinct: ids.size, ids }
}

function deadEntries(dir: string): { stage: string; reason: string; source: Record<string, unknown> }[] {
  const deadDir = path.join(dir, 'dead')
  if (!existsSync(deadDir)) return []
  return readdirSync(deadDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(deadDir, f), 'utf8')))
}

const leftCount = (dir: string): number =>
  existsSync(path.join(dir, 'left'))
    ? readdirSync(path.join(dir, 'left')).filter((f) => !f.startsWith('.')).length
    : 0

async function waitFor(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

test('Redis stream: 3,000 documents (fields, JSON and msgpack `data`) plus invalid entries: each valid one once in MySQL, the invalid in dead/ with their entry id', async (t) => {
  const db = await freshDatabase(t, 'rds')
  const { stream, redis } = await freshStream(t)
  const pipeline = redis.pipeline()
  const invalidIds: string[] = []
  for (let i = 0; i < 3000; i++) {
    if (i % 3 === 0) pipeline.xadd(stream, '*', 'doc_id', `doc-${i}`, 'text', text(i))
    else if (i % 3 === 1)
      pipeline.xadd(stream, '*', 'data', JSON.stringify({ doc_id: `doc-${i}`, text: text(i) }))
    else pipeline.xadd(stream, '*', 'data', pack({ doc_id: `doc-${i}`, text: text(i) }))
  }
  for (const bad of [
    ['data', 'not json {'],
    ['doc_id', 'no-text'],
    ['text', 'no id'],
  ]) {
    pipeline.xadd(stream, '*', ...(bad as [string, string]))
  }
  const added = (await pipeline.exec()) ?? []
  for (const [, id] of added.slice(3000)) invalidIds.push(String(id))
  const dir = tempDir(t)
  const run = runCli(t, ['start', '--once', '--data-dir', dir], {
    LR_REDIS_URL: REDIS_URL,
    LR_REDIS_STREAM: stream,
    LR_MYSQL_URL: db.url,
    LR_RECOGNIZER: 'dictionary',
  })
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  const stats = await rowStats(db.pool)
  assert.equal(stats.rows, 3000)
  assert.equal(stats.distinct, 3000)
  const dead = deadEntries(dir)
  assert.deepEqual(dead.map((d) => d.source.id).sort(), invalidIds.sort(), 'each invalid entry, by its id')
  for (const d of dead) assert.equal(d.stage, 'redis')
  const [pending] = (await redis.xpending(stream, 'leftright')) as [number]
  assert.equal(Number(pending), 0, 'every entry acknowledged')
})

test('Redis stream: a consumer killed with entries pending; the next process claims them and every document is stored once', async (t) => {
  const db = await freshDatabase(t, 'rdskill')
  const { stream, redis } = await freshStream(t)
  const pipeline = redis.pipeline()
  for (let i = 0; i < 3000; i++) pipeline.xadd(stream, '*', 'doc_id', `doc-${i}`, 'text', text(i))
  await pipeline.exec()
  const dir = tempDir(t)
  const env = {
    LR_REDIS_URL: REDIS_URL,
    LR_REDIS_STREAM: stream,
    LR_REDIS_CLAIM_IDLE_MS: '1000',
    LR_MYSQL_URL: db.url,
    LR_RECOGNIZER: 'dictionary',
    LR_BATCH_SIZE: '50',
    LR_PREFETCH_MAX_PENDING: '10',
  }
  const first = runCli(t, ['start', '--data-dir', dir], env)
  await first.waitForLine((l) => l.includes('"batch done"'))
  // Prefetch is paused at the left/ limit, holding read but unacknowledged entries: kill it now.
  await waitFor('entries pending with the first consumer', async () => {
    const [n] = (await redis.xpending(stream, 'leftright')) as [number]
    return Number(n) > 0
  })
  first.child.kill('SIGKILL')
  await first.exited
  const [pendingAtKill] = (await redis.xpending(stream, 'leftright')) as [number]
  const second = runCli(t, ['start', '--once', '--data-dir', dir], { ...env, LR_STALE_MS: '1000' })
  const { code } = await second.exited
  assert.equal(code, 0, second.stderr)
  const stats = await rowStats(db.pool)
  assert.equal(stats.distinct, 3000, 'none missing')
  assert.equal(stats.rows, 3000, 'none twice')
  const [pending] = (await redis.xpending(stream, 'leftright')) as [number]
  assert.equal(Number(pending), 0)
  assert.ok(Number(pendingAtKill) > 0, 'the killed consumer held entries it had read and not acknowledged')
  assert.ok(
    second.stdout.some((l) => l.includes('took over entries another consumer left pending')),
    `the ${pendingAtKill} entries the killed consumer held were claimed`,
  )
})

test('RabbitMQ queue: 3,000 documents (JSON and msgpack) plus invalid messages: each valid one once in MySQL, the invalid in dead/, the queue empty', async (t) => {
  const db = await freshDatabase(t, 'amqp')
  const q = await freshQueue(t)
  const bodies: (string | Buffer)[] = []
  for (let i = 0; i < 3000; i++) {
    const doc = { doc_id: `doc-${i}`, text: text(i) }
    bodies.push(i % 2 === 0 ? JSON.stringify(doc) : pack(doc))
  }
  bodies.push('not json {', JSON.stringify({ doc_id: 'no-text' }), '')
  await q.send(bodies)
  const dir = tempDir(t)
  const run = runCli(t, ['start', '--once', '--data-dir', dir], {
    LR_AMQP_URL: AMQP_URL,
    LR_AMQP_QUEUE: q.queue,
    LR_MYSQL_URL: db.url,
    LR_RECOGNIZER: 'dictionary',
  })
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  const stats = await rowStats(db.pool)
  assert.deepEqual([stats.rows, stats.distinct], [3000, 3000])
  const dead = deadEntries(dir)
  assert.equal(dead.length, 3)
  for (const d of dead) {
    assert.equal(d.stage, 'amqp')
    assert.equal(d.source.queue, q.queue)
    assert.equal(typeof d.source.deliveryTag, 'number')
  }
  assert.equal(await q.depth(), 0)
})

test('RabbitMQ queue: kill -9 mid-run, then a restart: none missing, none twice', async (t) => {
  const db = await freshDatabase(t, 'amqpkill')
  const q = await freshQueue(t)
  await q.send(Array.from({ length: 3000 }, (_, i) => JSON.stringify({ doc_id: `doc-${i}`, text: text(i) })))
  const dir = tempDir(t)
  const env = {
    LR_AMQP_URL: AMQP_URL,
    LR_AMQP_QUEUE: q.queue,
    LR_MYSQL_URL: db.url,
    LR_RECOGNIZER: 'dictionary',
    LR_BATCH_SIZE: '50',
    LR_PREFETCH_MAX_PENDING: '10',
    LR_STALE_MS: '1000',
  }
  const first = runCli(t, ['start', '--data-dir', dir], env)
  await first.waitForLine((l) => l.includes('"batch done"'))
  await waitFor('some batch files', () => leftCount(dir) >= 5)
  first.child.kill('SIGKILL')
  await first.exited
  const stored = (await rowStats(db.pool)).rows
  assert.ok(stored < 3000, `killed mid-run (${stored} stored)`)
  const second = runCli(t, ['start', '--once', '--data-dir', dir], env)
  const { code } = await second.exited
  assert.equal(code, 0, second.stderr)
  const stats = await rowStats(db.pool)
  assert.deepEqual([stats.rows, stats.distinct], [3000, 3000])
  assert.equal(await q.depth(), 0)
})

test('two sources set exits 2 with one line naming both', async (t) => {
  const run = runCli(t, ['start', '--once', '--data-dir', tempDir(t)], {
    LR_REDIS_URL: REDIS_URL,
    LR_AMQP_URL: AMQP_URL,
  })
  assert.equal((await run.exited).code, 2)
  assert.match(run.stderr, /one source per process: LR_REDIS_URL and LR_AMQP_URL are set/)
})

test('dispatch --to redis: source rows without a result reach the stream, never more than LR_REDIS_MAXLEN unacknowledged; a consumer drains it into MySQL', async (t) => {
  const db = await freshDatabase(t, 'rdsdisp')
  const { stream, redis } = await freshStream(t)
  const { createMysqlPool } = await import('../../src/adapters/mysql.js')
  const { loadSettings } = await import('../../src/core/config.js')
  const { createSourceTable } = await import('../../src/feed/source-table.js')
  const setup = createMysqlPool(db.url, 1)
  await createSourceTable(setup, loadSettings({}, {}))
  await setup.end()
  const rows = Array.from({ length: 2000 }, (_, i) => [i + 1, `m${i + 1}`, text(i)])
  await db.pool.query('INSERT INTO source_data (id, mid, content) VALUES ?', [rows])
  const env = {
    LR_MYSQL_URL: db.url,
    LR_REDIS_URL: REDIS_URL,
    LR_REDIS_STREAM: stream,
    LR_REDIS_MAXLEN: '300',
    LR_DISPATCH_PAGE_SIZE: '100',
    LR_RECOGNIZER: 'dictionary',
  }
  const dir = tempDir(t)
  const dispatch = runCli(t, ['dispatch', '--to', 'redis', '--data-dir', dir], env)
  // With no consumer yet, dispatch stops at the limit and waits.
  await dispatch.waitForLine((l) => l.includes('stream full: waiting for the consumers'))
  const atLimit = await redis.xlen(stream)
  assert.ok(atLimit <= 400, `${atLimit} entries: at most LR_REDIS_MAXLEN plus one page`)
  // status asks the source: the entries the group has not acknowledged yet.
  const status = runCli(t, ['status', '--json', '--data-dir', dir], env)
  assert.equal((await status.exited).code, 0, status.stderr)
  const snap = JSON.parse(status.stdout.join('')) as { source: { name: string; total: number } }
  assert.equal(snap.source.name, `redis:${stream}`)
  assert.ok(snap.source.total >= 300, `status shows the source's lag (${snap.source.total})`)
  let peak = 0
  const sampler = setInterval(async () => {
    const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][]
    const g = groups[0] as unknown[]
    const lag = Number(g[g.indexOf('lag') + 1] ?? 0)
    const pending = Number(g[g.indexOf('pending') + 1] ?? 0)
    peak = Math.max(peak, lag + pending)
  }, 20)
  t.after(() => clearInterval(sampler))
  const consumer = runCli(t, ['start', '--data-dir', path.join(dir, 'box')], env)
  assert.equal((await dispatch.exited).code, 0, dispatch.stderr)
  for (let i = 0; i < 3000; i++) {
    const [[r]] = (await db.pool.query('SELECT COUNT(*) AS n FROM doc_ent_map')) as unknown as [
      { n: number }[],
    ]
    if (Number(r?.n) === 2000) break
    await new Promise((res) => setTimeout(res, 20))
  }
  clearInterval(sampler)
  consumer.child.kill('SIGTERM')
  await consumer.exited
  const stats = await rowStats(db.pool)
  assert.deepEqual([stats.rows, stats.distinct], [2000, 2000])
  assert.ok(peak <= 400, `unacknowledged entries peaked at ${peak}`)
})
