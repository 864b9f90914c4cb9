import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { makeDocs, runCli, tempDir, writeJsonl } from '../helpers.js'
import { freshClickhouse, TcpProxy } from '../services.js'

async function counts(
  ch: Awaited<ReturnType<typeof freshClickhouse>>,
): Promise<{ final: number; distinct: number }> {
  const [r] = await ch.query<{ n: string; d: string }>(
    'SELECT count() AS n, uniqExact(doc_id) AS d FROM doc_ent_map FINAL',
  )
  return { final: Number(r?.n), distinct: Number(r?.d) }
}

test('ClickHouse sink: the same 2,000 documents processed twice leave one row each under FINAL', async (t) => {
  const ch = await freshClickhouse(t, 'chtwice')
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(2000))
  const env = { LR_CLICKHOUSE_URL: ch.url, LR_RECOGNIZER: 'dictionary' }
  for (const round of [1, 2]) {
    const data = path.join(dir, `data-${round}`)
    const enq = runCli(t, ['enqueue', input, '--data-dir', data])
    assert.equal((await enq.exited).code, 0, enq.stderr)
    const run = runCli(t, ['start', '--once', '--data-dir', data], env)
    assert.equal((await run.exited).code, 0, run.stderr)
    assert.ok(
      run.stdout.some((l) => l.includes('"sink":"clickhouse"')),
      'the ClickHouse sink was used',
    )
  }
  const [all] = await ch.query<{ n: string }>('SELECT count() AS n FROM doc_ent_map')
  assert.ok(Number(all?.n) >= 2000, 'both runs inserted')
  assert.deepEqual(await counts(ch), { final: 2000, distinct: 2000 })
  const [row] = await ch.query<{ ent_list_str: string }>(
    "SELECT ent_list_str FROM doc_ent_map FINAL WHERE doc_id = 'doc-1'",
  )
  assert.ok(Array.isArray(JSON.parse(String(row?.ent_list_str))), 'entity lists as JSON arrays')
})

test('ClickHouse down mid-run: batches are retried with the claim kept and every document is stored once', async (t) => {
  const ch = await freshClickhouse(t, 'chdown')
  const proxy = new TcpProxy(8123)
  await proxy.up()
  t.after(() => proxy.down())
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(3000))
  const enq = runCli(t, ['enqueue', input, '--data-dir', dir, '--batch-size', '50'])
  assert.equal((await enq.exited).code, 0)
  const run = runCli(t, ['start', '--once', '--data-dir', dir, '--workers', '2'], {
    LR_CLICKHOUSE_URL: `http://127.0.0.1:${proxy.port}/${ch.name}`,
    LR_RECOGNIZER: 'builtin',
  })
  await run.waitForLine((l) => l.includes('"batch done"'))
  await proxy.down()
  await run.waitForLine((l) => /sink (failed|unreachable)/.test(l))
  await new Promise((r) => setTimeout(r, 2000))
  await proxy.up()
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  assert.deepEqual(await counts(ch), { final: 3000, distinct: 3000 })
  const [failures] = await ch.query<{ n: string }>('SELECT count() AS n FROM doc_failures')
  assert.equal(Number(failures?.n), 0, 'nothing was charged to the documents')
})

test('LR_SINK=clickhouse without LR_CLICKHOUSE_URL exits 2 with one line', async (t) => {
  const run = runCli(t, ['start', '--once', '--data-dir', tempDir(t)], { LR_SINK: 'clickhouse' })
  assert.equal((await run.exited).code, 2)
  assert.match(run.stderr, /LR_SINK=clickhouse needs LR_CLICKHOUSE_URL/)
})

test('dispatch --from clickhouse: source_data rows without a result become batch files; a rerun sends nothing more', async (t) => {
  const ch = await freshClickhouse(t, 'chdisp')
  const { createClient } = await import('@clickhouse/client')
  const client = createClient({ url: 'http://127.0.0.1:8123', database: ch.name })
  t.after(() => client.close())
  await client.command({
    query: 'CREATE TABLE source_data (id UInt64, mid String, content String) ENGINE = MergeTree ORDER BY id',
  })
  await client.insert({
    table: 'source_data',
    values: Array.from({ length: 1000 }, (_, i) => ({
      id: i + 1,
      mid: `m${i + 1}`,
      content: `Jack Ma in Beijing ${i}`,
    })),
    format: 'JSONEachRow',
  })
  const dir = tempDir(t)
  const env = { LR_CLICKHOUSE_URL: ch.url, LR_RECOGNIZER: 'dictionary', LR_DISPATCH_PAGE_SIZE: '100' }
  // 300 already have a result (the sink's table, made by a first empty run).
  const first = runCli(t, ['start', '--once', '--data-dir', path.join(dir, 'empty')], env)
  assert.equal((await first.exited).code, 0, first.stderr)
  await client.insert({
    table: 'doc_ent_map',
    values: Array.from({ length: 300 }, (_, i) => ({
      doc_id: `m${i * 3 + 1}`,
      ent_list_str: '[]',
      mapped_list_str: '[]',
      create_time: '2026-01-01 00:00:00',
      batch_id: 'seed',
      host: 'seed',
      version: 1,
    })),
    format: 'JSONEachRow',
  })
  const data = path.join(dir, 'data')
  const d1 = runCli(t, ['dispatch', '--from', 'clickhouse', '--to-left', '--data-dir', data], env)
  assert.equal((await d1.exited).code, 0, d1.stderr)
  const run = runCli(t, ['start', '--once', '--data-dir', data], env)
  assert.equal((await run.exited).code, 0, run.stderr)
  assert.deepEqual(await counts(ch), { final: 1000, distinct: 1000 })
  const [seeded] = await ch.query<{ n: string }>(
    "SELECT count() AS n FROM doc_ent_map FINAL WHERE batch_id = 'seed'",
  )
  assert.equal(Number(seeded?.n), 300, 'rows that had a result were not sent again')
  const d2 = runCli(
    t,
    ['dispatch', '--from', 'clickhouse', '--to-left', '--data-dir', path.join(dir, 'again')],
    env,
  )
  assert.equal((await d2.exited).code, 0, d2.stderr)
  assert.ok(
    d2.stdout.some((l) => l.includes('"toSend":0')),
    'a rerun (even from a fresh checkpoint) finds nothing to send',
  )
})
