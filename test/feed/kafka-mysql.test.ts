import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import type { RowDataPacket } from 'mysql2/promise'
import { startMockGpu } from '../../scripts/mock-gpu.js'
import { type CliRun, logRecords, readMarkers, runCli, tempDir } from '../helpers.js'
import { freshDatabase, freshTopic, kafkaClient, kafkaForFile, produce, TcpProxy } from '../services.js'

const kafka = kafkaForFile()

const docValue = (i: number, prefix = 'doc') =>
  JSON.stringify({ doc_id: `${prefix}-${i}`, text: `Jack Ma met Tim Cook in Beijing (${i}).` })

function kafkaEnv(topic: string, url: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LR_KAFKA_BROKERS: kafka.broker,
    LR_KAFKA_TOPIC: topic,
    LR_KAFKA_GROUP: `g-${topic}`,
    LR_MYSQL_URL: url,
    LR_RECOGNIZER: 'dictionary',
    LR_KAFKA_SESSION_TIMEOUT_MS: '6000',
    ...extra,
  }
}

async function rowStats(pool: import('mysql2/promise').Pool): Promise<{ rows: number; distinct: number }> {
  const [[r]] = await pool.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n, COUNT(DISTINCT doc_id) AS d FROM doc_ent_map',
  )
  return { rows: Number(r?.n), distinct: Number(r?.d) }
}

test('5,000 messages with 20 invalid: start --once stores 4,980 rows once each and 20 dead with reasons', async (t) => {
  const db = await freshDatabase(t, 'k5000')
  const topic = freshTopic()
  const values: string[] = []
  let k = 0
  for (let i = 0; i < 5000; i++) {
    if (i % 250 === 7) {
      const bad = [
        'not json at all',
        JSON.stringify({ doc_id: `bad-${i}` }),
        JSON.stringify({ text: 'no id' }),
        JSON.stringify({ doc_id: `big-${i}`, text: 'x'.repeat(3000) }),
      ]
      values.push(bad[k++ % 4] as string)
    } else values.push(docValue(i))
  }
  assert.equal(values.filter((v) => !v.startsWith('{"doc_id":"doc-')).length, 20)
  await produce(kafkaClient(t, kafka.broker), topic, values)
  const dir = tempDir(t)
  const run = runCli(
    t,
    ['start', '--once', '--data-dir', dir],
    kafkaEnv(topic, db.url, { LR_MAX_TEXT_BYTES: '2000' }),
  )
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  assert.deepEqual(await rowStats(db.pool), { rows: 4980, distinct: 4980 })
  const dead = readdirSync(path.join(dir, 'dead')).map(
    (f) =>
      JSON.parse(readFileSync(path.join(dir, 'dead', f), 'utf8')) as {
        reason: string
        source: { offset: string }
      },
  )
  assert.equal(dead.length, 20)
  assert.ok(dead.every((d) => d.reason.length > 0 && d.source.offset !== undefined))
  assert.ok(dead.some((d) => /over the limit/.test(d.reason)))
  assert.ok(dead.some((d) => /not valid JSON|neither JSON/.test(d.reason)))
})

test('two processes in one group, separate data dirs: every doc_id once, both took part', async (t) => {
  const db = await freshDatabase(t, 'ktwo')
  const topic = freshTopic()
  await produce(
    kafkaClient(t, kafka.broker),
    topic,
    Array.from({ length: 10_000 }, (_, i) => docValue(i)),
  )
  const env = kafkaEnv(topic, db.url, {
    LR_PREFETCH_MAX_PENDING: '2',
    LR_WORKERS: '2',
    LR_RECOGNIZER: 'builtin',
  })
  const dirs = [tempDir(t), tempDir(t)]
  const runs = dirs.map((dir) => runCli(t, ['start', '--once', '--data-dir', dir], env))
  const exits = await Promise.all(runs.map((r) => r.exited))
  for (const [i, e] of exits.entries()) assert.equal(e.code, 0, runs[i]?.stderr)
  assert.deepEqual(await rowStats(db.pool), { rows: 10_000, distinct: 10_000 })
  const done = dirs.map((d) => [...readMarkers(d).values()].filter((m) => m.state === 'done').length)
  assert.ok(
    done.every((n) => n > 0),
    `both processes did part of the work (${done.join(' / ')} batches)\n${runs
      .map((r) => r.stdout.filter((l) => !l.includes('batch done')).join('\n'))
      .join('\n----\n')}`,
  )
})

test('kill -9 during prefetch, then restart: no doc_id missing, none duplicated', async (t) => {
  const db = await freshDatabase(t, 'kkill')
  const topic = freshTopic()
  await produce(
    kafkaClient(t, kafka.broker),
    topic,
    Array.from({ length: 6000 }, (_, i) => docValue(i)),
  )
  const dir = tempDir(t)
  const env = kafkaEnv(topic, db.url, { LR_BATCH_SIZE: '50', LR_PREFETCH_MAX_PENDING: '1000' })
  const prefetch = runCli(t, ['prefetch', '--data-dir', dir], env)
  // Kill it after some batch files are durable but (very likely) before all messages are in.
  for (;;) {
    const n = existsSync(path.join(dir, 'left'))
      ? readdirSync(path.join(dir, 'left')).filter((f) => !f.startsWith('.')).length
      : 0
    if (n >= 5) break
    assert.equal(prefetch.child.exitCode, null, `prefetch ended before the kill: ${prefetch.stderr}`)
    await new Promise((r) => setTimeout(r, 5))
  }
  prefetch.child.kill('SIGKILL')
  await prefetch.exited
  const inLeft = readdirSync(path.join(dir, 'left')).filter((f) => !f.startsWith('.')).length
  assert.ok(inLeft < 120, `killed mid-prefetch (${inLeft} of 120 batch files written)`)
  const run = runCli(t, ['start', '--once', '--data-dir', dir], env)
  assert.equal((await run.exited).code, 0, run.stderr)
  assert.deepEqual(await rowStats(db.pool), { rows: 6000, distinct: 6000 })
})

test('MySQL unavailable mid-run: no batch marked done without its rows; the run completes once it is back', async (t) => {
  const db = await freshDatabase(t, 'kdown')
  const proxy = new TcpProxy()
  await proxy.up()
  t.after(() => proxy.down())
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  const { writeJsonl, makeDocs } = await import('../helpers.js')
  writeJsonl(input, makeDocs(3000))
  const url = `mysql://root@127.0.0.1:${proxy.port}/${db.name}`
  const enq = runCli(t, ['enqueue', input, '--data-dir', dir, '--batch-size', '50'])
  assert.equal((await enq.exited).code, 0)
  const run = runCli(t, ['start', '--once', '--data-dir', dir, '--workers', '2'], {
    LR_MYSQL_URL: url,
    LR_RECOGNIZER: 'builtin',
  })
  await run.waitForLine((l) => l.includes('"batch done"'))
  await proxy.down()
  await run.waitForLine((l) => /(mapping|sink) failed; will retry/.test(l))
  // While MySQL is away, every done marker has all its rows.
  await new Promise((r) => setTimeout(r, 3000))
  await proxy.up()
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  assert.deepEqual(await rowStats(db.pool), { rows: 3000, distinct: 3000 })
  const [perBatch] = await db.pool.query<RowDataPacket[]>(
    'SELECT batch_id, COUNT(*) AS n FROM doc_ent_map GROUP BY batch_id',
  )
  const rowsOf = new Map(perBatch.map((r) => [String(r.batch_id), Number(r.n)]))
  const markers = readMarkers(dir)
  assert.equal(markers.size, 60)
  for (const [id, m] of markers) {
    assert.equal(m.state, 'done')
    assert.equal(rowsOf.get(id), m.ok, `batch ${id}: rows in MySQL match its done marker`)
  }
})

test('MySQL unreachable at start: the workers claim and recognise meanwhile, nothing is stored or marked done, and all goes in once it is up', async (t) => {
  const db = await freshDatabase(t, 'kstart')
  const proxy = new TcpProxy()
  await proxy.up()
  await proxy.down()
  t.after(() => proxy.down())
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  const { writeJsonl, makeDocs } = await import('../helpers.js')
  writeJsonl(input, makeDocs(400))
  const enq = runCli(t, ['enqueue', input, '--data-dir', dir, '--batch-size', '50'])
  assert.equal((await enq.exited).code, 0)
  const run = runCli(t, ['start', '--once', '--data-dir', dir, '--workers', '2'], {
    LR_MYSQL_URL: `mysql://root@127.0.0.1:${proxy.port}/${db.name}`,
    LR_RECOGNIZER: 'builtin',
  })
  await run.waitForLine((l) => l.includes('sink') && l.includes('ECONNREFUSED'))
  // Claims are taken while the database is away; none is marked done.
  for (;;) {
    const markers = [...readMarkers(dir).values()]
    assert.ok(markers.every((m) => m.state === 'claimed'))
    if (markers.length >= 2) break
    assert.equal(run.child.exitCode, null, run.stderr)
    await new Promise((r) => setTimeout(r, 50))
  }
  await proxy.up()
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  assert.deepEqual(await rowStats(db.pool), { rows: 400, distinct: 400 })
  assert.ok([...readMarkers(dir).values()].every((m) => m.state === 'done'))
})

async function untilPausedOrOver(run: CliRun, reason: string, over: () => boolean): Promise<void> {
  for (;;) {
    if (run.stdout.some((l) => l.includes(`prefetch paused: ${reason}`))) return
    assert.ok(!over(), `prefetch wrote past its ${reason} limit without pausing`)
    assert.equal(run.child.exitCode, null, run.stderr)
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('backpressure: prefetch pauses at the left/ limit and under LR_MIN_FREE_DISK, status says why, nothing is lost', async (t) => {
  const db = await freshDatabase(t, 'kpause')
  const topic = freshTopic()
  await produce(
    kafkaClient(t, kafka.broker),
    topic,
    Array.from({ length: 2000 }, (_, i) => docValue(i)),
  )
  const status = async (dir: string) => {
    const run = runCli(t, ['status', '--json', '--data-dir', dir])
    assert.equal((await run.exited).code, 0, run.stderr)
    return JSON.parse(run.stdout.join('')) as {
      prefetch: { running: boolean; paused: string | null } | null
      batches: { pending: number }
    }
  }
  const leftCount = (dir: string) =>
    existsSync(path.join(dir, 'left'))
      ? readdirSync(path.join(dir, 'left')).filter((f) => !f.startsWith('.')).length
      : 0
  // 1 worker + 2 pending allowed: left/ holds at most 3 batch files, of 40 the topic would fill.
  const env = kafkaEnv(topic, db.url, { LR_BATCH_SIZE: '50', LR_WORKERS: '1', LR_PREFETCH_MAX_PENDING: '2' })
  const dir = tempDir(t)
  const prefetch = runCli(t, ['prefetch', '--data-dir', dir], env)
  // Wait for the pause, failing (not hanging) if left/ grows past the limit instead.
  await untilPausedOrOver(prefetch, 'backlog', () => leftCount(dir) > 3)
  await new Promise((r) => setTimeout(r, 1500))
  assert.equal(leftCount(dir), 3)
  const paused = await status(dir)
  assert.deepEqual(paused.prefetch && { running: paused.prefetch.running, paused: paused.prefetch.paused }, {
    running: true,
    paused: 'backlog',
  })
  prefetch.child.kill('SIGTERM')
  assert.equal((await prefetch.exited).code, 0, prefetch.stderr)
  assert.equal((await status(dir)).prefetch?.running, false)

  // A second box (own data dir, same group) whose disk is "full": it writes nothing.
  const full = tempDir(t)
  const starved = runCli(t, ['prefetch', '--data-dir', full], { ...env, LR_MIN_FREE_DISK: '100%' })
  await untilPausedOrOver(starved, 'disk', () => leftCount(full) > 0)
  assert.equal((await status(full)).prefetch?.paused, 'disk')
  assert.equal(leftCount(full), 0)
  starved.child.kill('SIGTERM')
  assert.equal((await starved.exited).code, 0, starved.stderr)

  // Draining left/ lets prefetch resume, and every message arrives exactly once. The worker
  // calls a slow entity service, so left/ is still full when the consumer has joined: the
  // prefetcher starts paused (with the embedded recognizer, the worker may empty it first).
  const gpu = await startMockGpu({ capacity: 8, callMs: 30, docMs: 0 })
  t.after(() => gpu.close())
  const run = runCli(t, ['start', '--once', '--data-dir', dir], {
    ...env,
    LR_RECOGNIZER: 'http',
    LR_NER_URL: gpu.url,
  })
  assert.equal((await run.exited).code, 0, run.stderr)
  assert.ok(run.stdout.some((l) => l.includes('prefetch resumed')))
  // Logged once per change: paused and resumed alternate, and a resume says why and for how long.
  const changes = logRecords(run.stdout).filter((r) => /^prefetch (paused|resumed)/.test(String(r.msg)))
  changes.forEach((r, i) => {
    assert.match(
      String(r.msg),
      i % 2 === 0 ? /^prefetch paused: backlog/ : /^prefetch resumed after \d+ s \(backlog\)/,
    )
    if (i % 2 === 1) assert.equal(typeof r.pausedMs, 'number')
  })
  assert.deepEqual(await rowStats(db.pool), { rows: 2000, distinct: 2000 })
})
