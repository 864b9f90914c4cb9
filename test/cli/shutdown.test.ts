import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { logRecords, makeDocs, readMarkers, resultCounts, runCli, tempDir, writeJsonl } from '../helpers.js'

async function prepare(t: Parameters<typeof tempDir>[0], docs: number): Promise<string> {
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(docs))
  const enq = runCli(t, ['enqueue', input, '--data-dir', dir, '--batch-size', '40'])
  assert.equal((await enq.exited).code, 0, enq.stderr)
  return dir
}

for (const [name, graceMs] of [
  ['in-flight batches finish within the grace period', '60000'],
  ['in-flight batches past a zero grace period are given back', '0'],
] as const) {
  test(`SIGTERM mid-run (${name}): exit 0, no claim left, a second run completes every document once`, async (t) => {
    const dir = await prepare(t, 4000)
    const args = ['start', '--once', '--data-dir', dir, '--workers', '4', '--gpu-concurrency', '2']
    const run = runCli(t, [...args, '--shutdown-grace-ms', graceMs])
    await run.waitForLine((l) => l.includes('"batch done"'))
    run.child.kill('SIGTERM')
    const { code } = await run.exited
    assert.equal(code, 0, run.stderr)
    const after = [...readMarkers(dir).values()]
    assert.equal(after.filter((m) => m.state === 'claimed').length, 0, 'no marker left claimed')
    const doneFirst = after.filter((m) => m.state === 'done').length
    assert.ok(doneFirst < 100, `stopped before the end (${doneFirst} of 100 batches done)`)
    const released = logRecords(run.stdout).filter((r) => r.msg === 'batch given back unfinished (shutdown)')
    const finishing = logRecords(run.stdout).filter((r) => r.msg === 'letting in-flight batches finish')
    assert.equal(finishing.length, 1, 'the stop waited for the batches in flight')
    if (graceMs === '0') assert.ok(released.length > 0, 'some in-flight batch was given back')
    else
      assert.equal(released.length, 0, 'with time to spare, every batch in flight finished: none given back')

    const again = runCli(t, args)
    assert.equal((await again.exited).code, 0, again.stderr)
    const counts = resultCounts(dir)
    assert.equal(counts.size, 4000)
    assert.ok([...counts.values()].every((n) => n === 1))
    assert.equal([...readMarkers(dir).values()].filter((m) => m.state === 'done').length, 100)
  })
}
