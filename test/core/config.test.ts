import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { loadSettings, unknownEnv } from '../../src/core/config.js'
import { isLrError } from '../../src/core/errors.js'
import { envOf, settingKeys } from '../../src/core/settings.js'
import { settingsTable, TABLE_BEGIN, TABLE_END } from '../../src/core/settings-table.js'
import { repoRoot, runCli, tempDir } from '../helpers.js'

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
  bad({}, { LR_MAPPING: 'redis' }, /LR_MAPPING="redis": expected auto, tsv, mysql or service/)
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

test("the README's settings table is the one generated from the definitions", () => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8')
  const start = readme.indexOf(TABLE_BEGIN)
  const end = readme.indexOf(TABLE_END)
  assert.ok(start >= 0 && end > start, 'README.md has the settings table markers')
  const inReadme = readme.slice(start + TABLE_BEGIN.length, end).trim()
  assert.equal(inReadme, settingsTable(), 'run `npm run settings-table` after changing a setting')
  for (const key of settingKeys) assert.match(inReadme, new RegExp(`\`${envOf(key)}\``))
})

test('every LR_* setting is parsed in one place: logging too, and an explicit recognizer wins over LR_NER_URL', (t) => {
  const cwd = tempDir(t)
  const bad = (env: Record<string, string>, re: RegExp) =>
    assert.throws(
      () => loadSettings({}, env, cwd),
      (err: unknown) => isLrError(err, 'LR_CONFIG') && re.test(err.message),
    )
  bad({ LR_LOG_FORMAT: 'xml' }, /LR_LOG_FORMAT="xml": expected auto, json or pretty/)
  bad({ LR_LOG_LEVEL: 'loud' }, /LR_LOG_LEVEL="loud"/)
  bad({ LR_LOG_KEEP: '0' }, /LR_LOG_KEEP/)
  writeFileSync(path.join(cwd, 'a-file'), '')
  bad({ LR_DATA_DIR: 'a-file' }, /LR_DATA_DIR=.*not a folder/)
  bad({ LR_ENTITIES: 'no-such.tsv' }, /LR_ENTITIES=.*no such file/)
  bad({ LR_SAMPLE: 'no-such-folder' }, /LR_SAMPLE=no-such-folder: expected auto, off or a folder/)
  const s = loadSettings({}, { LR_LOG_FORMAT: 'json', LR_LOG_MAX_SIZE: '500K' }, cwd)
  assert.equal(s.logFormat, 'json')
  assert.equal(s.logMaxSize, '500k')
  const url = { LR_NER_URL: 'http://127.0.0.1:1/' }
  assert.equal(loadSettings({}, url, cwd).recognizer, 'http')
  assert.equal(loadSettings({}, { ...url, LR_RECOGNIZER: 'builtin' }, cwd).recognizer, 'builtin')
})

test('a misspelt LR_* variable is named with the closest setting', async (t) => {
  assert.deepEqual(unknownEnv({ LR_WORKER: '8', LR_CONFIG: 'x', LR_WORKERS: '2', PATH: '/bin' }), [
    { name: 'LR_WORKER', closest: 'LR_WORKERS' },
  ])
  const run = runCli(t, ['status', '--data-dir', tempDir(t)], { LR_WORKER: '8' })
  await run.exited
  assert.match(run.stderr, /LR_WORKER is not a setting \(did you mean LR_WORKERS\?\)/)
})
