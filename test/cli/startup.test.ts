import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { makeDocs, repoRoot, runCli, tempDir, writeJsonl } from '../helpers.js'

const recorder = path.join(repoRoot, 'dist', 'test', 'fixtures', 'load-recorder.js')

/** Modules `start` without a source, files or HTTP has no use for before it claims (first-claim bench). */
const NOT_BEFORE_THE_FIRST_CLAIM = [
  '/src/feed/prefetcher.js',
  '/src/feed/create-source.js',
  '/src/feed/enqueue.js',
  '/src/feed/enqueue-thread.js',
  '/src/ops/status.js',
  '/src/ops/http-server.js',
  '/node_modules/kafkajs/',
  '/node_modules/ioredis/',
  '/node_modules/amqplib/',
  '/node_modules/mysql2/',
  '/node_modules/short-uuid/',
  'node:child_process',
  'node:zlib',
]

test('start claims before it loads the source, enqueue, status and database modules it does not need yet', async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'docs.jsonl')
  writeJsonl(input, makeDocs(300))
  const data = path.join(dir, 'data')
  const enqueue = runCli(t, ['enqueue', input, '--data-dir', data])
  assert.equal((await enqueue.exited).code, 0)

  const loads = path.join(dir, 'loads.txt')
  const run = runCli(t, ['start', '--data-dir', data, '--workers', '1'], {
    LR_LOG_LEVEL: 'debug',
    LR_TEST_LOAD_LOG: loads,
    NODE_OPTIONS: `--import=${pathToFileURL(recorder).href}`,
  })
  const claimed = JSON.parse(await run.waitForLine((l) => l.includes('"msg":"claimed"'))) as { time: number }
  run.child.kill('SIGTERM')
  await run.exited

  const before = readFileSync(loads, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ') as [string, string])
    .filter(([at]) => Number(at) <= claimed.time)
    .map(([, url]) => url)
  // The recorder saw the modules that claim.
  assert.ok(
    before.some((u) => u.endsWith('/src/work/claim-queue.js')),
    `claim-queue.js loaded: ${before.length} modules`,
  )
  const early = before.filter((u) => NOT_BEFORE_THE_FIRST_CLAIM.some((m) => u.includes(m)))
  assert.deepEqual(early, [], 'loaded before the first claim')
})
