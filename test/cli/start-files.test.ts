import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import type { RowDataPacket } from 'mysql2/promise'
import { readBatchFile } from '../../src/store/batch-file.js'
import type { Writer } from '../../src/store/writers.js'
import {
  linesSaying,
  logRecords,
  makeDocs,
  readMarkers,
  resultCounts,
  runCli,
  tempDir,
  writeJsonl,
} from '../helpers.js'
import { freshDatabase } from '../services.js'

const writersOf = (dir: string): string[] => {
  const w = path.join(dir, 'state', 'writers')
  return existsSync(w) ? readdirSync(w) : []
}
/** The data dir's writers once one of them has reported its progress (none if they end first). */
async function writersOnceReporting(dir: string): Promise<Writer[]> {
  for (let seen = false; ; ) {
    const writers = writersOf(dir).flatMap((name) => {
      try {
        return [JSON.parse(readFileSync(path.join(dir, 'state', 'writers', name), 'utf8')) as Writer]
      } catch {
        return []
      }
    })
    if (writers.some((w) => w.progress) || (seen && writers.length === 0)) return writers
    seen ||= writers.length > 0
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('start --once FILE FILE: one command enqueues both files and works them; bad lines go to dead/; exit 0', async (t) => {
  const dir = tempDir(t)
  const a = path.join(dir, 'a.jsonl')
  const b = path.join(dir, 'b.jsonl')
  const docs = makeDocs(230)
  writeJsonl(a, [...docs.slice(0, 100), 'this is not json'])
  writeJsonl(b, [{ doc_id: 'no-text' }, ...docs.slice(100)])
  const data = path.join(dir, 'data')

  const run = runCli(t, ['start', '--once', a, b, '--data-dir', data, '--batch-size', '50', '--workers', '3'])
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)

  const counts = resultCounts(data)
  assert.equal(counts.size, 230)
  assert.ok(
    [...counts.values()].every((n) => n === 1),
    'every document stored once',
  )
  const markers = readMarkers(data)
  assert.ok([...markers.values()].every((m) => m.state === 'done'))
  assert.equal(
    [...markers.values()].reduce((n, m) => n + (m.docs ?? 0), 0),
    230,
  )
  const dead = readdirSync(path.join(data, 'dead')).map(
    (f) =>
      JSON.parse(readFileSync(path.join(data, 'dead', f), 'utf8')) as {
        source: { file: string; line: number }
      },
  )
  assert.deepEqual(dead.map((d) => `${path.basename(d.source.file)}:${d.source.line}`).sort(), [
    'a.jsonl:101',
    'b.jsonl:1',
  ])
  // The thread's lines come out through the process's own logger, at their level.
  const records = logRecords(run.stdout)
  assert.equal(records.filter((r) => r.msg === 'input line set aside in dead/' && r.level === 40).length, 2)
  assert.equal(linesSaying(run.stdout, 'enqueued 230 documents'), 1)
  assert.equal(linesSaying(run.stdout, 'drained: nothing pending or claimed'), 1)
  assert.deepEqual(writersOf(data), [], 'no writer is left registered')
  assert.deepEqual(readdirSync(path.join(data, 'left')), [])
  assert.deepEqual(readdirSync(path.join(data, 'right')).sort(), [...markers.keys()].sort())
})

test('start --once FILE works on the first batches while the file is still being read', async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(300_000))
  const data = path.join(dir, 'data')
  const run = runCli(t, ['start', '--once', input, '--data-dir', data, '--recognizer', 'none'])
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  const msgs = logRecords(run.stdout).map((r) => String(r.msg))
  const firstDone = msgs.indexOf('batch done')
  const enqueued = msgs.findIndex((m) => m.startsWith('enqueued 300000 documents'))
  assert.ok(
    firstDone >= 0 && enqueued > firstDone,
    `a batch was done before the file was all read (${firstDone}, ${enqueued})`,
  )
  assert.equal(resultCounts(data).size, 300_000)
  assert.deepEqual(writersOf(data), [])
})

test('start FILE: a file that cannot be read, a source beside the files, or standard input exits 2 with one line', async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(3))
  const fifo = path.join(dir, 'fifo.jsonl')
  execFileSync('mkfifo', [fifo])
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['start', path.join(dir, 'missing.jsonl')], {}, /cannot read .*missing\.jsonl: ENOENT/],
    [['start', input], { LR_KAFKA_BROKERS: '127.0.0.1:1' }, /takes its documents from the files/],
    [['start', '-'], {}, /for standard input or a pipe: leftright enqueue/],
    [['start', fifo], {}, /for standard input or a pipe: leftright enqueue/],
    [['work', input], {}, /too many arguments/],
  ]
  for (const [args, env, message] of cases) {
    const run = runCli(t, [...args, '--data-dir', path.join(dir, 'data')], env)
    assert.equal((await run.exited).code, 2, args.join(' '))
    assert.match(run.stderr, message)
    assert.equal(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`)
  }
  assert.equal(existsSync(path.join(dir, 'data', 'left')), false, 'nothing started')
})

test('start --once FILE.gz cut short: what was read is worked, the error is one line, exit 1 (the file was not all enqueued)', async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl.gz')
  const whole = gzipSync(
    makeDocs(20_000)
      .map((d) => `${JSON.stringify(d)}\n`)
      .join(''),
  )
  writeFileSync(input, whole.subarray(0, Math.floor(whole.length * 0.6)))
  const data = path.join(dir, 'data')
  const run = runCli(t, ['start', '--once', input, '--data-dir', data, '--batch-size', '500'])
  const { code } = await run.exited
  assert.equal(code, 1, run.stderr)
  const failed = logRecords(run.stdout).filter((r) => String(r.msg).startsWith('enqueue failed:'))
  assert.equal(failed.length, 1)
  assert.equal(failed[0]?.level, 50)
  const stored = resultCounts(data).size
  assert.ok(stored >= 500 && stored < 20_000, `the batches read before the error are stored (${stored})`)
  assert.deepEqual(readdirSync(path.join(data, 'left')), [], 'nothing left pending')
  assert.equal(linesSaying(run.stdout, 'drained'), 0, 'not called drained')
  assert.deepEqual(writersOf(data), [])
})

test('start FILE stopped part way through a long file: what it read is done or pending in left/, none lost', async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(500_000))
  const data = path.join(dir, 'data')
  const run = runCli(t, ['start', input, '--data-dir', data, '--batch-size', '100', '--workers', '2'])
  await run.waitForLine((l) => l.includes('batch done'))
  // Meanwhile `status` finds one writer for the command, saying how far it has read.
  const writers = await writersOnceReporting(data)
  assert.deepEqual(
    writers.map((w) => w.what),
    ['start: enqueue'],
  )
  assert.ok((writers[0]?.progress?.docs ?? 0) > 0, JSON.stringify(writers))
  run.child.kill('SIGTERM')
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  const stored = resultCounts(data).size
  let pending = 0
  for (const f of readdirSync(path.join(data, 'left')))
    pending += (await readBatchFile(path.join(data, 'left', f), f.replace('.msgpack', ''))).docs.length
  const end = logRecords(run.stdout).find((r) => String(r.msg).startsWith('enqueue stopped part way'))
  assert.ok(end, 'the stop is said')
  assert.equal(stored + pending, end.docs, 'each document enqueued is stored or pending')
  assert.ok(Number(end.docs) < 500_000, 'stopped before the end of the file')
  assert.deepEqual(writersOf(data), [])
})

test('start --once FILE into MariaDB: one row per document, each under the batch that carried it, and a re-run adds none', async (t) => {
  const db = await freshDatabase(t, 'startfile')
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(1200))
  const data = path.join(dir, 'data')
  const env = { LR_MYSQL_URL: db.url }
  const args = ['start', '--once', input, '--data-dir', data, '--batch-size', '100', '--recognizer', 'none']
  const first = runCli(t, args, env)
  assert.equal((await first.exited).code, 0, first.stderr)
  const count = async () => {
    const [[r]] = await db.pool.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n, COUNT(DISTINCT doc_id) AS docs, COUNT(DISTINCT batch_id) AS batches FROM doc_ent_map',
    )
    return { n: Number(r?.n), docs: Number(r?.docs), batches: Number(r?.batches) }
  }
  assert.deepEqual(await count(), { n: 1200, docs: 1200, batches: 12 })
  // The same file again (a re-send): the rows are updated in place, not added.
  const again = runCli(t, args, env)
  assert.equal((await again.exited).code, 0, again.stderr)
  assert.equal((await count()).n, 1200)
  assert.deepEqual(writersOf(data), [])
})
