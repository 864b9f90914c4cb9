import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { loadSettings } from '../src/config.js'
import { isLrError } from '../src/errors.js'
import { runCli, tempDir } from './helpers.js'

test('flags override env, env overrides the config file, the file overrides defaults', (t) => {
  const cwd = tempDir(t)
  writeFileSync(
    path.join(cwd, 'leftright.config.json'),
    JSON.stringify({ workers: 7, batchSize: 10, staleMs: 999 }),
  )
  const s = loadSettings({ workers: '3' }, { LR_WORKERS: '5', LR_BATCH_SIZE: '20' }, cwd)
  assert.equal(s.workers, 3)
  assert.equal(s.batchSize, 20)
  assert.equal(s.staleMs, 999)
  assert.equal(s.gpuConcurrency, 2)
  assert.equal(s.dataDir, path.join(cwd, 'data'))
  assert.deepEqual(s.minFreeDisk, { kind: 'percent', value: 5 })
  const tuned = loadSettings(
    { 'dispatch-page-size': '50' },
    { LR_KAFKA_SESSION_TIMEOUT_MS: '6000', LR_PREFETCH_MAX_PENDING: '9', LR_MYSQL_RESULTS_TABLE: 'res_2' },
    cwd,
  )
  assert.equal(tuned.kafkaSessionTimeoutMs, 6000)
  assert.equal(tuned.prefetchMaxPending, 9)
  assert.equal(tuned.mysqlResultsTable, 'res_2')
  assert.equal(tuned.dispatchPageSize, 50)
  assert.deepEqual(loadSettings({ 'min-free-disk': '2GB' }, {}, cwd).minFreeDisk, {
    kind: 'bytes',
    value: 2 * 1024 ** 3,
  })
})

test('a bad setting names itself, where it came from and what was expected', (t) => {
  const cwd = tempDir(t)
  const bad = (flags: Record<string, string>, env: Record<string, string>, re: RegExp) =>
    assert.throws(
      () => loadSettings(flags, env, cwd),
      (err: unknown) => isLrError(err, 'LR_CONFIG') && re.test(err.message),
    )
  bad({}, { LR_WORKERS: 'many' }, /LR_WORKERS="many": expected an integer/)
  bad({ 'gpu-concurrency': '0' }, {}, /--gpu-concurrency="0"/)
  bad({}, { LR_RECOGNIZER: 'gpt' }, /LR_RECOGNIZER.*builtin, dictionary, none or http/)
  bad({}, { LR_MIN_FREE_DISK: 'lots' }, /LR_MIN_FREE_DISK/)
  bad({}, { LR_KAFKA_SESSION_TIMEOUT_MS: '100' }, /LR_KAFKA_SESSION_TIMEOUT_MS="100": expected milliseconds/)
  bad({}, { LR_MYSQL_RESULTS_TABLE: 'x; drop table y' }, /LR_MYSQL_RESULTS_TABLE.*table name/)
  bad({}, { LR_MAPPING: 'redis' }, /LR_MAPPING="redis": expected auto, tsv or mysql/)
  bad({}, { LR_MAPPING: 'mysql' }, /LR_MAPPING=mysql needs LR_MYSQL_URL/)
  writeFileSync(path.join(cwd, 'leftright.config.json'), '{"wokers": 2}')
  bad({}, {}, /unknown setting "wokers"/)
})

test('the CLI exits 2 with one line for a bad setting or flag', async (t) => {
  for (const [args, env, re] of [
    [['status'], { LR_BATCH_SIZE: '-1' }, /LR_BATCH_SIZE/],
    [['start', '--wrokers', '2'], {}, /wrokers/],
    [['frobnicate'], {}, /unknown command/],
  ] as const) {
    const run = runCli(t, [...args], env)
    const { code } = await run.exited
    assert.equal(code, 2)
    const lines = run.stderr.trim().split('\n')
    assert.equal(lines.length, 1, run.stderr)
    assert.match(lines[0] as string, re)
  }
})
