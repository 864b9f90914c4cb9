import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { makeDocs, runCli, tempDir, writeJsonl } from '../helpers.js'

test('LR_LOG_FILE: JSON logs rotate by size and only LR_LOG_KEEP old files are kept', async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(2000))
  // 400 batches: their "batch done" lines reach pino-roll's thread in many writes even when that
  // thread is starved of a core and takes them in chunks (100 batches once came in three writes).
  const enq = runCli(t, ['enqueue', input, '--data-dir', path.join(dir, 'data'), '--batch-size', '5'])
  assert.equal((await enq.exited).code, 0, enq.stderr)
  const logs = path.join(dir, 'logs')
  const run = runCli(t, ['start', '--once', '--data-dir', path.join(dir, 'data')], {
    LR_LOG_FILE: path.join(logs, 'leftright'),
    LR_LOG_MAX_SIZE: '4k',
    LR_LOG_KEEP: '2',
    // The dictionary recognizer, not none: the lines then come over a second or so, as in a real
    // run. With none, 100 batches end in a blink, and pino-roll's thread may receive most lines
    // in one write at exit (one write is never split across files).
    LR_RECOGNIZER: 'dictionary',
  })
  assert.equal((await run.exited).code, 0, run.stderr)
  assert.deepEqual(run.stdout.filter(Boolean), [], 'nothing on stdout: the logs went to the file')
  const files = readdirSync(logs)
    .filter((f) => /^leftright\.\d+\.log$/.test(f))
    .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]))
  // 400 "batch done" lines of ~250 bytes: about 25 files of 4k were written, 3 remain.
  assert.equal(files.length, 3, files.join(' '))
  assert.ok(Number(files[0]?.split('.')[1]) > 1, 'the oldest files were removed')
  for (const f of files) assert.ok(statSync(path.join(logs, f)).size < 8 * 1024, `${f} was rotated`)
  // The last line written may sit in the newest file or, when it was the line that triggered a
  // rotation, at the end of the one before (the newest is then still empty).
  const lines = files
    .flatMap((f) => readFileSync(path.join(logs, f), 'utf8').split('\n'))
    .filter((l) => l.trim() !== '')
  const last = JSON.parse(lines[lines.length - 1] as string) as { msg: string }
  assert.match(last.msg, /^drained/)
})

test('a bad LR_LOG_MAX_SIZE exits 2 with one line', async (t) => {
  const dir = tempDir(t)
  const r2 = runCli(t, ['janitor', '--once', '--data-dir', dir], {
    LR_LOG_FILE: path.join(dir, 'l'),
    LR_LOG_MAX_SIZE: 'big',
  })
  assert.equal((await r2.exited).code, 2)
  assert.match(r2.stderr, /LR_LOG_MAX_SIZE="big": expected a size/)
})
