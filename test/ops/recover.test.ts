import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { startMockGpu } from '../../scripts/mock-gpu.js'
import {
  cliPath,
  makeDocs,
  markerPath,
  repoRoot,
  resultCounts,
  runCli,
  tempDir,
  writeJsonl,
} from '../helpers.js'

const deadEntries = (dir: string) => readdirSync(path.join(dir, 'dead')).filter((f) => f.endsWith('.json'))

test('retry dead after a run where every call failed: all documents stored after the retry, dead count back to 0', async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(120))
  assert.equal((await runCli(t, ['enqueue', input, '--data-dir', dir, '--batch-size', '40']).exited).code, 0)
  const broken = await startMockGpu({ port: 0, capacity: 4, callMs: 1, failRate: 1 })
  const failing = runCli(t, ['start', '--once', '--data-dir', dir], {
    LR_NER_URL: broken.url,
    LR_NER_ATTEMPTS: '1',
  })
  assert.equal((await failing.exited).code, 0, failing.stderr)
  await broken.close()
  assert.equal(deadEntries(dir).length, 120, 'every document set aside')

  const retry = runCli(t, ['retry', 'dead', '--data-dir', dir, '--stage', 'recognize'])
  assert.equal((await retry.exited).code, 0, retry.stderr)
  assert.match(retry.stdout.join('\n'), /put 120 documents back to work in 2 batches/)
  assert.equal(deadEntries(dir).length, 0, 'the dead count goes down')

  const gpu = await startMockGpu({ port: 0, capacity: 4, callMs: 1 })
  t.after(() => gpu.close())
  const again = runCli(t, ['start', '--once', '--data-dir', dir], { LR_NER_URL: gpu.url })
  assert.equal((await again.exited).code, 0, again.stderr)
  const counts = resultCounts(dir)
  assert.equal(counts.size, 120)
  const status = runCli(t, ['status', '--json', '--data-dir', dir])
  await status.exited
  assert.equal((JSON.parse(status.stdout.join('\n')) as { docs: { dead: number } }).docs.dead, 0)
})

test('retry bad, inspect, handoff --release each do what they say in one line', async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(100))
  assert.equal((await runCli(t, ['enqueue', input, '--data-dir', dir, '--batch-size', '50']).exited).code, 0)
  const [a, b] = readdirSync(path.join(dir, 'left')).map((f) => f.replace('.msgpack', '')) as [string, string]
  // One batch was set aside (say its file was damaged, then fixed); the other reserved for a handoff that never ran.
  renameSync(path.join(dir, 'left', `${a}.msgpack`), path.join(dir, 'bad', `${a}.msgpack`))
  writeFileSync(path.join(dir, 'bad', `${a}.reason.json`), '{"code":"LR_BATCH_CORRUPT"}')
  const reserved = {
    state: 'handed-off',
    host: hostname(),
    pid: 1,
    worker: 'handoff',
    claim: '',
    claimedAt: '',
    to: '/x/left/',
  }
  writeFileSync(markerPath({ right: path.join(dir, 'right') }, b), JSON.stringify(reserved))

  const inspect = runCli(t, ['inspect', b, '--data-dir', dir])
  assert.equal((await inspect.exited).code, 0, inspect.stderr)
  const info = JSON.parse(inspect.stdout.join('\n')) as {
    file: string
    docs: number
    marker: { state: string }
  }
  assert.deepEqual([info.file, info.docs, info.marker.state], ['left', 50, 'handed-off'])

  const bad = runCli(t, ['retry', 'bad', a, '--data-dir', dir])
  assert.equal((await bad.exited).code, 0, bad.stderr)
  assert.deepEqual(bad.stdout, ['put 1 batches from bad/ back into left/'])
  const release = runCli(t, ['handoff', '--release', '--data-dir', dir])
  assert.equal((await release.exited).code, 0, release.stderr)
  assert.deepEqual(release.stdout, ['gave back 1 handoff reservations'])

  const run = runCli(t, ['start', '--once', '--data-dir', dir, '--recognizer', 'none'])
  assert.equal((await run.exited).code, 0, run.stderr)
  assert.equal(resultCounts(dir).size, 100)
})

test('status on a folder that is not a data dir, and handoff to a folder that is not a left/, exit 2 with one line', async (t) => {
  const missing = path.join(tempDir(t), 'nope')
  const status = runCli(t, ['status', '--data-dir', missing])
  assert.equal((await status.exited).code, 2)
  assert.equal(status.stderr.trim().split('\n').length, 1)
  assert.match(status.stderr, /not a leftright data dir/)
  const dir = tempDir(t)
  mkdirSync(path.join(dir, 'elsewhere'))
  const handoff = runCli(t, [
    'handoff',
    '--data-dir',
    dir,
    '--to',
    path.join(dir, 'elsewhere'),
    '--count',
    '1',
  ])
  assert.equal((await handoff.exited).code, 2)
  assert.match(handoff.stderr, /must be another data dir's left\/ folder/)
})

test('enqueue reads standard input (-) and .gz files', async (t) => {
  const dir = tempDir(t)
  const lines = `${makeDocs(30, 'in')
    .map((d) => JSON.stringify(d))
    .join('\n')}\n`
  const viaStdin = spawnSync(process.execPath, [cliPath, 'enqueue', '-', '--data-dir', dir], {
    cwd: repoRoot,
    input: lines,
    env: { ...process.env, LR_LOG_FORMAT: 'json', LR_HTTP: 'off' },
    encoding: 'utf8',
  })
  assert.equal(viaStdin.status, 0, viaStdin.stderr)
  const gz = path.join(dir, 'more.jsonl.gz')
  writeFileSync(
    gz,
    gzipSync(
      `${makeDocs(20, 'gz')
        .map((d) => JSON.stringify(d))
        .join('\n')}\n`,
    ),
  )
  assert.equal((await runCli(t, ['enqueue', gz, '--data-dir', dir]).exited).code, 0)
  assert.deepEqual(deadEntries(dir), [], 'no junk in dead/')
  const run = runCli(t, ['start', '--once', '--data-dir', dir, '--recognizer', 'none'])
  assert.equal((await run.exited).code, 0, run.stderr)
  assert.equal(resultCounts(dir).size, 50)
})

test('a handoff whose copy fails gives back what it reserved and says so in one line, no stack trace', async (t) => {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(300))
  assert.equal((await runCli(t, ['enqueue', input, '--data-dir', dir]).exited).code, 0)
  // A remote destination that cannot be reached: rsync fails at once on this closed network.
  const handoff = runCli(t, [
    'handoff',
    '--data-dir',
    dir,
    '--to',
    'nosuchhost.invalid:/srv/data/left/',
    '--count',
    '2',
  ])
  const { code } = await handoff.exited
  assert.notEqual(code, 0)
  const lines = handoff.stderr.trim().split('\n')
  assert.equal(lines.length, 1, handoff.stderr)
  assert.match(handoff.stderr, /failed .*2 reserved batches given back/)
  assert.doesNotMatch(handoff.stderr, /\n\s+at /, 'no stack trace')
  assert.deepEqual(readdirSync(path.join(dir, 'right')), [], 'no reservation left behind')
  const status = runCli(t, ['status', '--json', '--data-dir', dir])
  await status.exited
  const snap = JSON.parse(status.stdout.join('')) as { batches: { pending: number; handedOff: number } }
  assert.deepEqual([snap.batches.pending, snap.batches.handedOff], [3, 0], 'all three batches claimable here')
})
