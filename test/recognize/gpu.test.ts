import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import type { RowDataPacket } from 'mysql2/promise'
import { type MockGpu, type MockGpuOptions, startMockGpu } from '../../scripts/mock-gpu.js'
import { logRecords, makeDocs, readMarkers, resultCounts, runCli, tempDir, writeJsonl } from '../helpers.js'
import { freshDatabase, TcpProxy } from '../services.js'

async function mockGpu(
  t: { after(fn: () => Promise<void>): void },
  opts: Partial<MockGpuOptions>,
): Promise<MockGpu> {
  const gpu = await startMockGpu(opts)
  t.after(() => gpu.close())
  return gpu
}

/** A data dir with `n` documents enqueued in batches of `batchSize`. */
async function enqueued(t: Parameters<typeof tempDir>[0], n: number, batchSize = 50): Promise<string> {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(n))
  const run = runCli(t, ['enqueue', input, '--data-dir', dir, '--batch-size', String(batchSize)])
  assert.equal((await run.exited).code, 0, run.stderr)
  return dir
}

function deadDocs(dir: string): { doc_id: string; reason: string }[] {
  const dead = path.join(dir, 'dead')
  if (!existsSync(dead)) return []
  return readdirSync(dead)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(dead, f), 'utf8')) as { doc_id: string; reason: string })
}

function finalGpu(stdout: string[]): { limit: number; decreases: number; overloads: number } {
  const last = logRecords(stdout).find((r) => String(r.msg).startsWith('drained'))
  return (last?.gpu ?? {}) as { limit: number; decreases: number; overloads: number }
}

test('capacity 4, LR_GPU_CONCURRENCY=16, resets over capacity: every document in the results, none dead', async (t) => {
  const gpu = await mockGpu(t, { capacity: 4, callMs: 20, over: 'reset' })
  const dir = await enqueued(t, 1000)
  const run = runCli(t, ['start', '--once', '--data-dir', dir], {
    LR_NER_URL: gpu.url,
    LR_GPU_CONCURRENCY: '16',
  })
  assert.equal((await run.exited).code, 0, run.stderr)
  const counts = resultCounts(dir)
  assert.equal(counts.size, 1000)
  assert.ok([...counts.values()].every((c) => c === 1))
  assert.deepEqual(deadDocs(dir), [])
  const s = gpu.stats()
  assert.ok(s.rejected > 0, 'the service did refuse calls over its capacity')
  assert.ok(s.maxInFlight <= 4)
  const cap = finalGpu(run.stdout)
  assert.ok(cap.decreases >= 1 && cap.limit <= 8, `the cap came down from 16: ${JSON.stringify(cap)}`)
})

test('20% of calls answer 500 and 10% reset: every document is in the results or in dead/ with a reason', async (t) => {
  const gpu = await mockGpu(t, { capacity: 8, callMs: 5, failRate: 0.2, resetRate: 0.1 })
  const dir = await enqueued(t, 1000)
  // Two attempts per call, so that some documents do run out of attempts.
  const run = runCli(t, ['start', '--once', '--data-dir', dir], {
    LR_NER_URL: gpu.url,
    LR_GPU_CONCURRENCY: '4',
    LR_NER_ATTEMPTS: '2',
  })
  assert.equal((await run.exited).code, 0, run.stderr)
  const results = resultCounts(dir)
  const dead = deadDocs(dir)
  assert.ok(dead.length > 0, 'with 2 attempts at a 30% failure rate some documents end in dead/')
  assert.ok(
    dead.every((d) => /entity service: (500|ECONNRESET|UND_ERR_SOCKET|.*other side closed)/.test(d.reason)),
    dead[0]?.reason,
  )
  const all = new Set([...results.keys(), ...dead.map((d) => d.doc_id)])
  assert.equal(all.size, 1000, 'no document missing')
  assert.equal(results.size + dead.length, 1000, 'none both processed and dead')
  const failed = [...readMarkers(dir).values()].reduce((sum, m) => sum + (m.failed ?? 0), 0)
  assert.equal(failed, dead.length, 'the done markers count the dead documents as failed')
})

test('a sink failure after recognition, a shutdown and a rerun: the GPU is not called again for that batch', async (t) => {
  const gpu = await mockGpu(t, { capacity: 4, callMs: 300 })
  const db = await freshDatabase(t, 'gpums')
  const proxy = new TcpProxy()
  await proxy.up()
  t.after(() => proxy.down())
  const dir = await enqueued(t, 32, 32)
  const env = {
    LR_NER_URL: gpu.url,
    LR_MYSQL_URL: `mysql://root@127.0.0.1:${proxy.port}/${db.name}`,
    LR_SHUTDOWN_GRACE_MS: '0',
  }
  const first = runCli(t, ['start', '--once', '--data-dir', dir], env)
  await first.waitForLine((l) => l.includes('workers started'))
  await proxy.down()
  // The mapping lookup (entity_dict in the same MySQL) is the first to find the database gone.
  await first.waitForLine((l) => /(mapping|sink) failed; will retry/.test(l))
  first.child.kill('SIGTERM')
  assert.equal((await first.exited).code, 0, first.stderr)
  assert.equal(readdirSync(path.join(dir, 'milestones')).filter((f) => !f.startsWith('.')).length, 1)
  const callsBefore = gpu.stats().calls
  assert.equal(gpu.stats().docs, 32)

  await proxy.up()
  const second = runCli(t, ['start', '--once', '--data-dir', dir], env)
  assert.equal((await second.exited).code, 0, second.stderr)
  assert.equal(gpu.stats().calls, callsBefore, 'no recognition call for a batch whose milestone was saved')
  const [[row]] = await db.pool.query<RowDataPacket[]>('SELECT COUNT(DISTINCT doc_id) AS n FROM doc_ent_map')
  assert.equal(Number(row?.n), 32)
  assert.deepEqual(
    readdirSync(path.join(dir, 'milestones')),
    [],
    'the milestone is deleted once the batch is done',
  )
})

test('SIGTERM while calls are in flight: the calls are cancelled, exit 0, and a rerun completes every document once', async (t) => {
  const callMs = 30_000
  const gpu = await mockGpu(t, { capacity: 4, callMs })
  const dir = await enqueued(t, 200)
  const first = runCli(t, ['start', '--once', '--data-dir', dir], {
    LR_NER_URL: gpu.url,
    LR_SHUTDOWN_GRACE_MS: '500',
  })
  while (gpu.stats().inFlight === 0) {
    assert.equal(first.child.exitCode, null, `start ended before any call: ${first.stderr}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  const signalledAt = Date.now()
  first.child.kill('SIGTERM')
  assert.equal((await first.exited).code, 0, first.stderr)
  assert.ok(Date.now() - signalledAt < callMs, 'it did not wait for the in-flight calls to be answered')
  assert.ok(
    [...readMarkers(dir).values()].every((m) => m.state !== 'claimed'),
    'no claim left behind',
  )

  gpu.configure({ callMs: 5 })
  const second = runCli(t, ['start', '--once', '--data-dir', dir], { LR_NER_URL: gpu.url })
  assert.equal((await second.exited).code, 0, second.stderr)
  const counts = resultCounts(dir)
  assert.equal(counts.size, 200)
  assert.ok([...counts.values()].every((c) => c === 1))
})

test('Hugging Face format, and a service that refuses large calls: calls are split, every document recognised', async (t) => {
  const gpu = await mockGpu(t, { capacity: 4, callMs: 5, maxDocsPerCall: 5 })
  const dir = await enqueued(t, 100)
  const run = runCli(t, ['start', '--once', '--data-dir', dir], {
    LR_NER_URL: gpu.url,
    LR_NER_FORMAT: 'hf',
    LR_NER_DOCS_PER_CALL: '16',
  })
  assert.equal((await run.exited).code, 0, run.stderr)
  assert.ok(gpu.stats().tooLarge > 0)
  assert.deepEqual(deadDocs(dir), [])
  const records = readdirSync(path.join(dir, 'results')).flatMap((f) =>
    readFileSync(path.join(dir, 'results', f), 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as { doc_id: string; entities: { text: string }[]; mapped: { id: string | null }[] },
      ),
  )
  assert.equal(records.length, 100)
  const jackMa = records.find((r) => r.doc_id === 'doc-0')
  assert.ok(
    jackMa?.entities.some((e) => e.text === 'Jack Ma'),
    JSON.stringify(jackMa),
  )
  assert.ok(
    jackMa?.mapped.some((m) => m.id !== null),
    'mapped to canonical ids by the mapping stage',
  )
})

// A batch that crashes its process every time: see test/faults/poison.test.ts (split until the one document is found).

test('a cap that reached LR_GPU_CONCURRENCY without a refusal is remembered: the next start begins there, not at 1', async (t) => {
  const gpu = await mockGpu(t, { capacity: 4, callMs: 20, over: 'reset' })
  const dir = await enqueued(t, 400)
  const env = { LR_NER_URL: gpu.url, LR_GPU_CONCURRENCY: '4' }
  const first = runCli(t, ['start', '--once', '--data-dir', dir], env)
  assert.equal((await first.exited).code, 0, first.stderr)
  assert.equal(gpu.stats().rejected, 0, 'the service took every call')
  assert.equal(finalGpu(first.stdout).limit, 4, 'slow start grew to the maximum')
  // Written when the run ends too, not only every second: this run took less than a second or so.
  const state = JSON.parse(readFileSync(path.join(dir, 'state', 'gpu.json'), 'utf8')) as {
    limit: number
    learned: boolean
  }
  assert.equal(state.limit, 4)
  assert.equal(state.learned, true)
  const input = path.join(dir, 'more.jsonl')
  writeJsonl(input, makeDocs(100, 'more-'))
  const enqueue = runCli(t, ['enqueue', input, '--data-dir', dir])
  assert.equal((await enqueue.exited).code, 0, enqueue.stderr)
  const second = runCli(t, ['start', '--once', '--data-dir', dir], env)
  assert.equal((await second.exited).code, 0, second.stderr)
  const began = logRecords(second.stdout).find((r) => String(r.msg).startsWith('GPU limit learned'))
  assert.equal(began?.limit, 4, 'the second run started at the limit the first one reached')
  assert.equal(resultCounts(dir).size, 500)
})

test('a batch of 500 documents (32 calls at once on its signal) runs without a listener-leak warning on stderr', async (t) => {
  const gpu = await mockGpu(t, { capacity: 4, callMs: 5, over: 'reset' })
  const dir = await enqueued(t, 500, 500)
  const run = runCli(t, ['start', '--once', '--data-dir', dir], {
    LR_NER_URL: gpu.url,
    LR_GPU_CONCURRENCY: '16',
  })
  assert.equal((await run.exited).code, 0, run.stderr)
  assert.equal(resultCounts(dir).size, 500)
  // Each call in flight listens on the batch's signal until it settles: many at once, no leak.
  assert.ok(!run.stderr.includes('MaxListenersExceededWarning'), run.stderr)
})
