import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  cliPath,
  makeDocs,
  readMarkers,
  repoRoot,
  resultCounts,
  runCli,
  tempDir,
  writeJsonl,
} from '../helpers.js'
import { undoAtExit } from '../leftovers.js'

const DOCS = 4000

function mergedCounts(...dirs: string[]): Map<string, number> {
  const all = new Map<string, number>()
  for (const dir of dirs) {
    if (!existsSync(path.join(dir, 'results'))) continue
    for (const [id, n] of resultCounts(dir)) all.set(id, (all.get(id) ?? 0) + n)
  }
  return all
}

const env = { LR_SAMPLE: 'off', LR_HTTP: 'off', LR_LOG_FORMAT: 'json', LR_WORKERS: '1', LR_RESCAN_MS: '500' }

test('handoff with rsync while workers run on both boxes, killed half-way and rerun: every document once', async (t) => {
  const root = tempDir(t)
  const a = path.join(root, 'a')
  const b = path.join(root, 'b')
  const input = path.join(root, 'in.jsonl')
  writeJsonl(input, makeDocs(DOCS))
  const enq = runCli(t, ['enqueue', input, '--data-dir', a, '--batch-size', '50'])
  assert.equal((await enq.exited).code, 0, enq.stderr)

  // Both boxes at work (box b starts empty and waits for batches).
  const boxA = runCli(t, ['start', '--data-dir', a], env)
  const boxB = runCli(t, ['start', '--data-dir', b], env)

  // A handoff slowed down by --bwlimit, killed with its rsync (the whole process group) part-way.
  const slow = spawn(
    process.execPath,
    [cliPath, 'handoff', '--data-dir', a, '--to', path.join(b, 'left'), '--count', '40', '--bwlimit', '8'],
    { cwd: repoRoot, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  // The whole process group (the CLI and its rsync), after the test or, if it never ends, at exit.
  const killGroup = (): void => {
    try {
      process.kill(-(slow.pid as number), 'SIGKILL')
    } catch {
      // already gone
    }
  }
  undoAtExit(killGroup)
  t.after(killGroup)
  let slowOut = ''
  slow.stdout.setEncoding('utf8').on('data', (c: string) => {
    slowOut += c
  })
  let slowExited = false
  const slowExit = new Promise((resolve) => slow.on('exit', resolve)).then(() => {
    slowExited = true
  })
  while (!slowOut.includes('batches reserved for handoff') && !slowExited) await sleep(20)
  const reserved = (
    JSON.parse(slowOut.split('\n').find((l) => l.includes('reserved for handoff')) ?? '{}') as {
      reserved: number
    }
  ).reserved
  assert.ok(reserved >= 10, `reserved ${reserved}`)
  await sleep(1200)
  process.kill(-(slow.pid as number), 'SIGKILL')
  await slowExit
  const midway = [...readMarkers(a).values()].filter((m) => m.state === 'handed-off')
  assert.ok(
    midway.some((m) => !m.handedOffAt),
    'killed part-way: some reserved batches had not been moved yet',
  )

  // The rerun finishes what the killed one reserved.
  const rerun = runCli(t, ['handoff', '--data-dir', a, '--to', path.join(b, 'left'), '--count', '0'], env)
  assert.equal((await rerun.exited).code, 0, rerun.stderr)
  const after = [...readMarkers(a).values()].filter((m) => m.state === 'handed-off')
  assert.equal(after.length, reserved)
  assert.ok(
    after.every((m) => m.handedOffAt),
    'every reserved batch moved and verified',
  )

  // Wait until the two boxes have every document, then stop them.
  for (let i = 0; i < 600 && mergedCounts(a, b).size < DOCS; i++) await sleep(100)
  await sleep(500)
  boxA.child.kill('SIGTERM')
  boxB.child.kill('SIGTERM')
  assert.equal((await boxA.exited).code, 0, boxA.stderr)
  assert.equal((await boxB.exited).code, 0, boxB.stderr)

  const counts = mergedCounts(a, b)
  assert.equal(counts.size, DOCS, 'every document processed')
  const twice = [...counts].filter(([, n]) => n > 1)
  assert.deepEqual(twice, [], 'no document processed twice')
  assert.ok(resultCounts(b).size >= 50 * reserved - 50 * 1, 'box b did the handed-off batches')
  // Nothing left to claim on either box. (A file the killed run had already copied, and box b
  // had already done, is copied again by the rerun: box b's marker says done, its janitor deletes it.)
  for (const dir of [a, b]) {
    const markers = readMarkers(dir)
    const left = readdirSync(path.join(dir, 'left')).filter((f) => !f.startsWith('.'))
    const open = left.filter((f) => markers.get(f.replace('.msgpack', ''))?.state !== 'done')
    assert.deepEqual(open, [], `${dir}/left holds no batch that is not done`)
  }
})
