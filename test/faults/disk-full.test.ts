import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statfsSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import type { RowDataPacket } from 'mysql2/promise'
import { logRecords, makeDocs, readMarkers, resultCounts, runCli, tempDir, writeJsonl } from '../helpers.js'
import { freshDatabase } from '../services.js'

// Issue "Nothing lost", item 3: at any free space, 0 bytes included, the process stays up, takes no
// claim it cannot record, says so once, and finishes by itself when space is back.

function smallDisk(t: Parameters<typeof tempDir>[0], size: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lr-disk-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir])
  t.after(() => {
    execFileSync('umount', ['-l', dir])
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

/** Fill the file system to 0 bytes free; returns the filler to delete later. */
function fill(dir: string): string {
  const filler = path.join(dir, 'filler')
  const fd = openSync(filler, 'w')
  const chunk = Buffer.alloc(64 * 1024)
  try {
    for (let size = chunk.length; size >= 1; ) {
      try {
        writeSync(fd, chunk, 0, size)
      } catch {
        size = Math.floor(size / 2)
      }
    }
  } finally {
    closeSync(fd)
  }
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
    assert.equal(
      logs.filter((r) => String(r.msg).includes('out of disk space')).length,
      1,
      'one line when it ran out',
    )
    assert.equal(
      logs.filter((r) => String(r.msg).includes('disk space is back')).length,
      1,
      'one line when it went on',
    )
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
