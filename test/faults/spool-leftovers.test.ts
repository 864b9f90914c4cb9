import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { makeDocs, runCli, tempDir, writeJsonl } from '../helpers.js'

test('a folder named like a batch in left/ is skipped with one warning and never blocks --once', async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(20))
  assert.equal((await runCli(t, ['enqueue', input, '--data-dir', dir]).exited).code, 0)
  const odd = path.join(dir, 'left', 'AAAAAAAAAAAAAAAAAAAAAA.msgpack')
  mkdirSync(odd)
  const run = runCli(t, ['start', '--once', '--data-dir', dir, '--recognizer', 'none', '--rescan-ms', '200'])
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  const warnings = run.stdout.filter((l) => l.includes('AAAAAAAAAAAAAAAAAAAAAA') && l.includes('"level":40'))
  assert.equal(warnings.length, 1, 'named once')
  assert.ok(statSync(odd).isDirectory(), 'left as it is')
})

test('the last line of a stopped run says what was done, set aside and left pending', async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(3000))
  assert.equal((await runCli(t, ['enqueue', input, '--data-dir', dir, '--batch-size', '50']).exited).code, 0)
  const run = runCli(t, [
    'start',
    '--once',
    '--data-dir',
    dir,
    '--recognizer',
    'builtin',
    '--shutdown-grace-ms',
    '0',
  ])
  await run.waitForLine((l) => l.includes('"batch done"'))
  run.child.kill('SIGTERM')
  assert.equal((await run.exited).code, 0, run.stderr)
  const last = JSON.parse(run.stdout.filter((l) => l.startsWith('{')).at(-1) as string) as Record<
    string,
    unknown
  >
  assert.doesNotMatch(String(last.msg), /drained/, 'work was left: it must not say drained')
  assert.match(String(last.msg), /stopped/)
  assert.ok(Number(last.pendingBatches) > 0, `pending batches named: ${JSON.stringify(last)}`)
  for (const k of ['batches', 'docs', 'dead', 'bad']) assert.ok(k in last, `${k} in the final line`)
})

test('put-back history is removed once the batch is done; dead/ keeps a prefix, size and hash of a huge line', async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  const huge = JSON.stringify({ doc_id: 'x', text: 'y'.repeat(3 * 1024 * 1024) })
  writeFileSync(input, `${JSON.stringify({ doc_id: 'ok', text: 'fine' })}\n${huge}\n`)
  assert.equal((await runCli(t, ['enqueue', input, '--data-dir', dir]).exited).code, 0)
  const [deadName] = readdirSync(path.join(dir, 'dead'))
  const dead = JSON.parse(readFileSync(path.join(dir, 'dead', deadName as string), 'utf8')) as Record<
    string,
    unknown
  >
  assert.ok(statSync(path.join(dir, 'dead', deadName as string)).size < 64 * 1024, 'dead entry stays small')
  assert.equal(dead.bytes, Buffer.byteLength(huge))
  assert.match(String(dead.sha256), /^[0-9a-f]{64}$/)
  // A batch with a put-back history: done, then the history goes.
  const [batch] = readdirSync(path.join(dir, 'left'))
  const id = (batch as string).replace('.msgpack', '')
  mkdirSync(path.join(dir, 'state', 'attempts'), { recursive: true })
  const attempts = path.join(dir, 'state', 'attempts', `${id}.json`)
  writeFileSync(
    attempts,
    JSON.stringify([{ at: new Date().toISOString(), host: 'h', pid: 1, worker: 'w0', reason: 'r' }]),
  )
  const run = runCli(t, ['start', '--once', '--data-dir', dir, '--recognizer', 'none'])
  assert.equal((await run.exited).code, 0, run.stderr)
  assert.equal(existsSync(attempts), false)
})
