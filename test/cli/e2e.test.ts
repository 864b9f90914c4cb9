import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import type { RowDataPacket } from 'mysql2/promise'
import {
  cliPath,
  logRecords,
  makeDocs,
  readMarkers,
  repoRoot,
  resultCounts,
  runCli,
  tempDir,
  writeJsonl,
} from '../helpers.js'
import { killAtExit } from '../leftovers.js'
import { freshDatabase } from '../services.js'

test('enqueue then start --once: one result per document, one done marker per batch, exit 0', async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  const docs = makeDocs(230)
  writeJsonl(input, [...docs.slice(0, 100), 'this is not json', { doc_id: 'no-text' }, ...docs.slice(100)])

  const enq = runCli(t, ['enqueue', input, '--data-dir', dir, '--batch-size', '50'])
  assert.equal((await enq.exited).code, 0, enq.stderr)
  const dead = readdirSync(path.join(dir, 'dead')).map(
    (f) =>
      JSON.parse(readFileSync(path.join(dir, 'dead', f), 'utf8')) as {
        source: { line: number }
        reason: string
      },
  )
  assert.deepEqual(dead.map((d) => d.source.line).sort(), [101, 102])
  assert.ok(dead.some((d) => /not valid JSON/.test(d.reason)))
  assert.ok(dead.some((d) => /text missing/.test(d.reason)))
  assert.equal(readdirSync(path.join(dir, 'left')).length, 5)

  const run = runCli(t, ['start', '--once', '--data-dir', dir, '--workers', '3'])
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  const counts = resultCounts(dir)
  assert.equal(counts.size, 230)
  assert.ok([...counts.values()].every((n) => n === 1))
  const markers = readMarkers(dir)
  assert.equal(markers.size, 5)
  assert.ok(
    [...markers.values()].every((m) => m.state === 'done' && m.docs === (m.ok ?? 0) + (m.failed ?? 0)),
  )
  assert.equal(
    [...markers.values()].reduce((n, m) => n + (m.docs ?? 0), 0),
    230,
  )
  assert.equal(readdirSync(path.join(dir, 'left')).length, 0, 'done batch files are deleted')
  assert.deepEqual(
    readdirSync(path.join(dir, 'right')).sort(),
    [...markers.keys()].sort(),
    'right/ holds the markers only: the spare inodes kept for claims went when the workers stopped',
  )

  // The embedded recognizer found and mapped entities from the shipped dictionary.
  const first = readdirSync(path.join(dir, 'results'))[0] as string
  const record = JSON.parse(
    readFileSync(path.join(dir, 'results', first), 'utf8').split('\n')[0] as string,
  ) as {
    mapped: { id: string | null }[]
  }
  assert.ok(
    record.mapped.some((m) => m.id !== null),
    'at least one entity mapped to a canonical id',
  )

  const status = runCli(t, ['status', '--json', '--data-dir', dir])
  assert.equal((await status.exited).code, 0)
  const snap = JSON.parse(status.stdout.join('\n')) as {
    batches: { done: number }
    docs: { done: number; dead: number }
  }
  assert.equal(snap.batches.done, 5)
  assert.equal(snap.docs.done, 230)
  assert.equal(snap.docs.dead, 2)
})

test('start --once while enqueue still writes: start waits for the writer, then drains and exits with every document done', async (t) => {
  const dir = tempDir(t)
  const docs = makeDocs(300)
  const line = (d: unknown) => `${JSON.stringify(d)}\n`
  // enqueue from standard input, fed in two parts: it is still running between them.
  const enq = spawn(process.execPath, [cliPath, 'enqueue', '-', '--data-dir', dir, '--batch-size', '50'], {
    env: { ...process.env, LR_LOG_FORMAT: 'json' },
    stdio: ['pipe', 'ignore', 'pipe'],
  })
  killAtExit(enq)
  t.after(() => enq.kill('SIGKILL'))
  const enqExit = new Promise<number | null>((resolve) => enq.on('exit', (code) => resolve(code)))
  enq.stdin.write(docs.slice(0, 100).map(line).join(''))
  // start --once waits for a writer it can see: launched before enqueue has registered (a
  // loaded machine starts processes slowly), it would find nothing and rightly exit.
  const writers = path.join(dir, 'state', 'writers')
  while (!existsSync(writers) || readdirSync(writers).length === 0)
    await new Promise((r) => setTimeout(r, 20))
  const start = runCli(t, ['start', '--once', '--data-dir', dir, '--workers', '2', '--rescan-ms', '200'])
  // The first part is processed while enqueue still holds its input open.
  const done = () =>
    existsSync(path.join(dir, 'right'))
      ? [...readMarkers(dir).values()].filter((m) => m.state === 'done').length
      : 0
  while (done() < 2) await new Promise((r) => setTimeout(r, 50))
  await new Promise((r) => setTimeout(r, 1000))
  assert.equal(start.child.exitCode, null, 'start --once must not call it drained while enqueue writes')
  enq.stdin.end(docs.slice(100).map(line).join(''))
  assert.equal(await enqExit, 0)
  const { code } = await start.exited
  assert.equal(code, 0, start.stderr)
  const counts = resultCounts(dir)
  assert.equal(counts.size, 300)
  assert.equal(done(), 6)
})

test('npm start on a fresh checkout seeds the shipped sample once into its own data/; a second run does not', async (t) => {
  const data = path.join(repoRoot, 'data')
  const runDirs = ['left', 'right', 'results', 'milestones', 'dead', 'bad', 'state', 'archive']
  const used = runDirs
    .slice(0, 2)
    .some((d) => existsSync(path.join(data, d)) && readdirSync(path.join(data, d)).length > 0)
  if (used) return t.skip('this checkout has run output in data/: the demo seeds only into an unused one')
  t.after(() => {
    for (const d of runDirs) rmSync(path.join(data, d), { recursive: true, force: true })
  })
  const env = { LR_SAMPLE: 'auto' }
  const first = runCli(t, ['start', '--once', '--recognizer', 'dictionary'], env)
  assert.equal((await first.exited).code, 0, first.stderr)
  const counts = resultCounts(data)
  assert.ok(counts.size >= 2000, `sample processed (${counts.size} documents)`)
  const second = runCli(t, ['start', '--once', '--recognizer', 'dictionary'], env)
  assert.equal((await second.exited).code, 0, second.stderr)
  const done = logRecords(second.stdout).filter((r) => r.msg === 'batch done')
  assert.equal(done.length, 0, 'nothing processed on the second run')
})

test("the sample is a demo: never into a data dir of the user's, never with MySQL", async (t) => {
  const db = await freshDatabase(t, 'nosample')
  const envs: Record<string, string>[] = [{ LR_SAMPLE: 'auto' }, { LR_SAMPLE: 'auto', LR_MYSQL_URL: db.url }]
  for (const env of envs) {
    const dir = tempDir(t)
    const run = runCli(t, ['start', '--once', '--data-dir', dir, '--recognizer', 'none'], env)
    assert.equal((await run.exited).code, 0, run.stderr)
    assert.equal(readMarkers(dir).size, 0, `no sample batch (${JSON.stringify(Object.keys(env))})`)
  }
  const [tables] = await db.pool.query<RowDataPacket[]>("SHOW TABLES LIKE 'doc_ent_map'")
  if (tables.length > 0) {
    const [[row]] = await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM doc_ent_map')
    assert.equal(Number(row?.n), 0, 'no sample row in MySQL')
  }
})

test('two start --once on one data dir: the one that runs out of batches first exits once the other is done, not at its next rescan', {
  timeout: 40_000,
}, async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(4000))
  const enq = runCli(t, ['enqueue', input, '--data-dir', dir, '--batch-size', '50'])
  assert.equal((await enq.exited).code, 0, enq.stderr)
  // A rescan only every minute: waiting for one, either process would outlast the test's timeout.
  const args = ['start', '--once', '--data-dir', dir, '--workers', '2', '--rescan-ms', '60000']
  const a = runCli(t, args)
  const b = runCli(t, args)
  const [ea, eb] = await Promise.all([a.exited, b.exited])
  assert.equal(ea.code, 0, a.stderr)
  assert.equal(eb.code, 0, b.stderr)
  const counts = resultCounts(dir)
  assert.equal(counts.size, 4000)
  assert.ok(
    [...counts.values()].every((n) => n === 1),
    'every document stored once',
  )
  for (const run of [a, b])
    assert.equal(logRecords(run.stdout).filter((r) => String(r.msg).startsWith('drained')).length, 1)
})
