import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import type { RowDataPacket } from 'mysql2/promise'
import { startMockGpu } from '../../scripts/mock-gpu.js'
import { makeDocs, readMarkers, resultCounts, runCli, tempDir, writeJsonl } from '../helpers.js'
import { freshDatabase } from '../services.js'

// Issue "Nothing lost", item 2: a crash is charged only to what could have caused it.

async function enqueued(t: Parameters<typeof tempDir>[0], n: number, batchSize: number): Promise<string> {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(n))
  const run = runCli(t, ['enqueue', input, '--data-dir', dir, '--batch-size', String(batchSize)])
  assert.equal((await run.exited).code, 0, run.stderr)
  return dir
}

/** Run `start --once` again after each SIGKILL until it exits by itself; returns the number of crashes. */
async function untilDone(
  t: Parameters<typeof tempDir>[0],
  dir: string,
  env: Record<string, string>,
  onRun: (run: ReturnType<typeof runCli>) => void,
  maxRuns: number,
): Promise<number> {
  let crashes = 0
  for (let i = 0; i < maxRuns; i++) {
    const run = runCli(t, ['start', '--once', '--data-dir', dir], env)
    onRun(run)
    const exit = await run.exited
    if (exit.signal === 'SIGKILL') {
      crashes++
      continue
    }
    assert.equal(exit.code, 0, run.stderr)
    return crashes
  }
  assert.fail(`still crashing after ${maxRuns} runs`)
}

test('one document that kills its process, in a batch of 100 beside others with 4 workers: 399 rows, 1 dead, nothing in bad/', async (t) => {
  const poison = 'doc-150'
  let current: ReturnType<typeof runCli> | null = null
  const gpu = await startMockGpu({
    port: 0,
    capacity: 4,
    callMs: 20,
    // Stands in for a document that takes the process down (out of memory on a huge text, say).
    onCall: (ids) => {
      if (ids.includes(poison)) current?.child.kill('SIGKILL')
    },
  })
  t.after(() => gpu.close())
  const dir = await enqueued(t, 400, 100)
  const db = await freshDatabase(t, 'poison')
  const env = {
    LR_NER_URL: gpu.url,
    LR_WORKERS: '4',
    LR_GPU_CONCURRENCY: '4',
    LR_STALE_MS: '2000',
    LR_MYSQL_URL: db.url,
  }
  const crashes = await untilDone(
    t,
    dir,
    env,
    (run) => {
      current = run
    },
    30,
  )
  assert.ok(crashes >= 2, `crashed ${crashes} times`)
  const [[rows]] = await db.pool.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n, COUNT(DISTINCT doc_id) AS d, SUM(doc_id = ?) AS p FROM doc_ent_map',
    [poison],
  )
  assert.deepEqual(
    [Number(rows?.n), Number(rows?.d), Number(rows?.p)],
    [399, 399, 0],
    'every other document, once',
  )
  const [failures] = await db.pool.query<RowDataPacket[]>('SELECT doc_id, stage, error FROM doc_failures')
  assert.deepEqual(
    failures.map((f) => [String(f.doc_id), f.stage]),
    [[poison, 'poison']],
    'the poison document is in doc_failures too',
  )
  const dead = readdirSync(path.join(dir, 'dead')).map(
    (f) => JSON.parse(readFileSync(path.join(dir, 'dead', f), 'utf8')) as Record<string, unknown>,
  )
  assert.equal(dead.length, 1)
  assert.equal(dead[0]?.doc_id, poison)
  assert.match(String(dead[0]?.reason), /LR_POISON/)
  assert.ok(((dead[0]?.history as unknown[] | undefined)?.length ?? 0) >= 2, 'with its history')
  assert.deepEqual(readdirSync(path.join(dir, 'bad')), [], 'bad/ is only for files that do not decode')
  assert.ok(
    [...readMarkers(dir).values()].every((m) => m.state === 'done'),
    JSON.stringify([...readMarkers(dir).entries()].filter(([, m]) => m.state !== 'done')),
  )
})

test('three outside kills during one slow batch: all 100 documents stored, none dead, nothing in bad/', async (t) => {
  let current: ReturnType<typeof runCli> | null = null
  const killed = new Set<unknown>()
  const gpu = await startMockGpu({
    port: 0,
    capacity: 4,
    callMs: 300,
    onCall: () => {
      // An operator's kill -9 (or the OOM killer picking this box) while the batch is in flight,
      // once in each of the first three runs.
      const victim = current
      if (victim && killed.size < 3 && !killed.has(victim)) {
        killed.add(victim)
        setTimeout(() => victim.child.kill('SIGKILL'), 100)
      }
    },
  })
  t.after(() => gpu.close())
  const dir = await enqueued(t, 100, 100)
  const env = { LR_NER_URL: gpu.url, LR_WORKERS: '2', LR_STALE_MS: '2000', LR_NER_DOCS_PER_CALL: '25' }
  const crashes = await untilDone(
    t,
    dir,
    env,
    (run) => {
      current = run
    },
    10,
  )
  assert.equal(crashes, 3)
  assert.equal(resultCounts(dir).size, 100)
  assert.deepEqual(readdirSync(path.join(dir, 'dead')), [])
  assert.deepEqual(readdirSync(path.join(dir, 'bad')), [])
})
