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
