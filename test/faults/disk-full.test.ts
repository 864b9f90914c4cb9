import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, rmSync, statfsSync } from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import type { RowDataPacket } from 'mysql2/promise'
import { createMysqlPool } from '../../src/adapters/mysql.js'
import { loadSettings } from '../../src/core/config.js'
import { createSourceTable } from '../../src/feed/source-table.js'
import { createResultTables } from '../../src/sink/mysql-tables.js'
import { readBatchFile } from '../../src/store/batch-file.js'
import {
  type CliRun,
  fillDisk,
  linesSaying,
  logRecords,
  makeDocs,
  readMarkers,
  resultCounts,
  runCli,
  smallDisk,
  tempDir,
  writeJsonl,
} from '../helpers.js'
import { freshDatabase } from '../services.js'

// Issue "Nothing lost", item 3: at any free space, 0 bytes included, the process stays up, takes no
// claim it cannot record, says so once, and finishes by itself when space is back.

/** Fill the file system to 0 bytes free; returns the filler to delete later. */
function fill(dir: string): string {
  const filler = fillDisk(dir)
  assert.equal(statfsSync(dir).bavail, 0, 'the disk is full')
  return filler
}

for (const sink of ['file', 'mysql'] as const) {
  test(`disk full with the ${sink} sink: up throughout, one line when it runs out and one when it goes on, every document stored`, async (t) => {
    const mount = smallDisk(t, '8m')
    const data = path.join(mount, 'data')
    mkdirSync(data)
    const input = path.join(tempDir(t), 'in.jsonl')
    writeJsonl(input, makeDocs(1000))
    assert.equal(
      (await runCli(t, ['enqueue', input, '--data-dir', data, '--batch-size', '50']).exited).code,
      0,
    )
    const env: Record<string, string> = { LR_MIN_FREE_DISK: '0' }
    let db: Awaited<ReturnType<typeof freshDatabase>> | null = null
    if (sink === 'mysql') {
      db = await freshDatabase(t, 'diskfull')
      env.LR_MYSQL_URL = db.url
    }
    const filler = fill(mount)
    const run = runCli(t, ['start', '--once', '--data-dir', data, '--recognizer', 'dictionary'], env)
    await run.waitForLine((l) => l.includes('out of disk space'))
    // A while at 0 bytes: the process stays up and answers.
    await new Promise((r) => setTimeout(r, 3000))
    assert.equal(run.child.exitCode, null, `still running: ${run.stderr}`)
    for (const m of readMarkers(data).values()) assert.notEqual(m.state, undefined, 'no empty marker')
    rmSync(filler)
    const { code } = await run.exited
    assert.equal(code, 0, run.stderr)
    const logs = logRecords(run.stdout)
    assert.equal(linesSaying(run.stdout, 'out of disk space'), 1, 'one line when it ran out')
    assert.equal(linesSaying(run.stdout, 'disk space is back'), 1, 'one line when it went on')
    assert.equal(
      logs.filter((r) => r.level === 50 || r.level === 60).length,
      0,
      `no error lines: ${JSON.stringify(logs.filter((r) => Number(r.level) >= 50).slice(0, 3))}`,
    )
    if (db) {
      const [[row]] = await db.pool.query<RowDataPacket[]>(
        'SELECT COUNT(DISTINCT doc_id) AS n FROM doc_ent_map',
      )
      assert.equal(Number(row?.n), 1000)
    } else {
      assert.equal(resultCounts(data).size, 1000)
    }
    assert.deepEqual(readdirSync(path.join(data, 'bad')), [])
    assert.deepEqual(readdirSync(path.join(data, 'dead')), [])
    assert.ok([...readMarkers(data).values()].every((m) => m.state === 'done'))
  })
}

/** doc_id -> how many batch files in left/ hold it; any temp file left there is an error. */
async function docsInLeft(data: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>()
  for (const name of readdirSync(path.join(data, 'left'))) {
    assert.ok(!name.startsWith('.'), `no temp file left behind: ${name}`)
    const id = name.replace(/\.msgpack$/, '')
    for (const d of (await readBatchFile(path.join(data, 'left', name), id)).docs) {
      seen.set(d.doc_id, (seen.get(d.doc_id) ?? 0) + 1)
    }
  }
  return seen
}

/**
 * A one-shot writer (`run`) that found the disk full: it says so once, is still running a while
 * later, and once `filler` is deleted ends with exit 0 and one line saying space is back.
 * Returns what is in left/ then.
 */
async function waitsOutFullDisk(run: CliRun, filler: string, data: string): Promise<Map<string, number>> {
  await run.waitForLine((l) => l.includes('out of disk space'))
  await new Promise((r) => setTimeout(r, 1500))
  assert.equal(run.child.exitCode, null, `still running, waiting for space: ${run.stderr}`)
  rmSync(filler)
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  assert.equal(linesSaying(run.stdout, 'out of disk space'), 1, 'one line when it ran out')
  assert.equal(linesSaying(run.stdout, 'disk space is back'), 1, 'one line when it went on')
  const seen = await docsInLeft(data)
  return seen
}

// About 3 MB of batch files: 3,000 documents of ~1 KB.
const bigDocs = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    doc_id: `big-${i}`,
    text: `${'Jack Ma founded Alibaba. '.repeat(40)}${i}`,
  }))

test('enqueue onto a disk that runs out: it waits, says so once, and every document is in left/ once space is back', async (t) => {
  const mount = smallDisk(t, '8m')
  const data = path.join(mount, 'data')
  mkdirSync(data)
  const input = path.join(tempDir(t), 'in.jsonl')
  writeJsonl(input, bigDocs(3000))
  const filler = fillDisk(mount, 1024 * 1024)
  const run = runCli(t, ['enqueue', input, '--data-dir', data, '--batch-size', '50'], {
    LR_MIN_FREE_DISK: '0',
  })
  const seen = await waitsOutFullDisk(run, filler, data)
  assert.equal(seen.size, 3000, 'every document is in a batch file')
  assert.ok(
    [...seen.values()].every((n) => n === 1),
    'each in one batch file',
  )
})

test('enqueue pauses while free disk is under LR_MIN_FREE_DISK and goes on by itself', async (t) => {
  const mount = smallDisk(t, '8m')
  const data = path.join(mount, 'data')
  mkdirSync(data)
  const input = path.join(tempDir(t), 'in.jsonl')
  writeJsonl(input, bigDocs(3000))
  const filler = fillDisk(mount, 4 * 1024 * 1024)
  const run = runCli(t, ['enqueue', input, '--data-dir', data, '--batch-size', '50'], {
    LR_MIN_FREE_DISK: '3MB',
  })
  await run.waitForLine((l) => l.includes('enqueue paused'))
  await new Promise((r) => setTimeout(r, 1500))
  assert.equal(run.child.exitCode, null, `still running, paused: ${run.stderr}`)
  const free = statfsSync(mount)
  assert.ok(
    free.bavail * free.bsize > 2 * 1024 * 1024,
    'it stopped writing near the floor, not at a full disk',
  )
  rmSync(filler)
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  assert.equal(linesSaying(run.stdout, 'enqueue paused'), 1, 'one line when it paused')
  assert.equal(linesSaying(run.stdout, 'enqueue resumed'), 1, 'one line when it went on')
  const seen = await docsInLeft(data)
  assert.equal(seen.size, 3000, 'every document is in a batch file')
})

/** A data dir on an 8 MB tmpfs with 4 MB left, and an input of 6,000 documents larger than that. */
function inputTooBigForDisk(t: TestContext): { data: string; input: string } {
  const mount = smallDisk(t, '8m')
  const data = path.join(mount, 'data')
  mkdirSync(data)
  const input = path.join(tempDir(t), 'in.jsonl')
  writeJsonl(input, bigDocs(6000))
  fillDisk(mount, 4 * 1024 * 1024)
  return { data, input }
}

// Before enqueue waited at the floor it filled the disk, and start --once could take no claim: both hung.
test('enqueue beside start --once on a disk too small for the input: enqueue waits at the floor, start makes room, every document is stored', {
  timeout: 60_000,
}, async (t) => {
  const { data, input } = inputTooBigForDisk(t)
  const env = { LR_MIN_FREE_DISK: '2MB' }
  const enqueue = runCli(t, ['enqueue', input, '--data-dir', data, '--batch-size', '50'], env)
  const writers = path.join(data, 'state', 'writers')
  while (!existsSync(writers) || readdirSync(writers).length === 0) await new Promise((r) => setTimeout(r, 5))
  const start = runCli(t, ['start', '--once', '--data-dir', data, '--recognizer', 'none'], env)
  const [e, s] = await Promise.all([enqueue.exited, start.exited])
  assert.equal(e.code, 0, enqueue.stderr)
  assert.equal(s.code, 0, start.stderr)
  assert.ok(
    logRecords(enqueue.stdout).some((r) => String(r.msg).includes('enqueue paused')),
    'the input did not fit: enqueue waited for start to make room',
  )
  assert.equal(resultCounts(data).size, 6000, 'every document stored')
})

test('start --once FILE on a disk too small for the input: its enqueue thread waits at the floor, its workers make room, every document is stored', {
  timeout: 60_000,
}, async (t) => {
  const { data, input } = inputTooBigForDisk(t)
  const run = runCli(
    t,
    ['start', '--once', input, '--data-dir', data, '--batch-size', '50', '--recognizer', 'none'],
    {
      LR_MIN_FREE_DISK: '2MB',
    },
  )
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  const paused = logRecords(run.stdout).filter((r) => String(r.msg).includes('enqueue paused'))
  assert.ok(paused.length > 0, 'the input did not fit: the thread waited for the workers to make room')
  assert.equal(paused[0]?.component, 'enqueue', "the thread's lines come out through the process's logger")
  assert.equal(resultCounts(data).size, 6000, 'every document stored')
})

test('dispatch --to-left onto a disk that runs out: it waits, says so once, and every missing row is in left/ once space is back', async (t) => {
  const db = await freshDatabase(t, 'dispdisk')
  const setup = createMysqlPool(db.url, 1)
  await createResultTables(setup, loadSettings({}, {}))
  await createSourceTable(setup, loadSettings({}, {}))
  await setup.end()
  const rows = bigDocs(3000).map((d, i) => [i + 1, d.doc_id, d.text])
  await db.pool.query('INSERT INTO source_data (id, mid, content) VALUES ?', [rows])
  const mount = smallDisk(t, '8m')
  const data = path.join(mount, 'data')
  mkdirSync(data)
  const filler = fillDisk(mount, 1024 * 1024)
  const run = runCli(t, ['dispatch', '--to-left', '--data-dir', data], {
    LR_MYSQL_URL: db.url,
    LR_BATCH_SIZE: '50',
    LR_MIN_FREE_DISK: '0',
  })
  const seen = await waitsOutFullDisk(run, filler, data)
  assert.equal(seen.size, 3000, 'every row is in a batch file')
})
