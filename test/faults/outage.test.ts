import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { startMockGpu } from '../../scripts/mock-gpu.js'
import { logRecords, makeDocs, resultCounts, runCli, tempDir, writeJsonl } from '../helpers.js'

// Issue "Nothing lost", item 8: an outage is logged once when it starts and once when it ends,
// shown in status, and costs no document.
test('the entity service down for a while: one WARN, one INFO, status shows it, nothing lost', async (t) => {
  let gpu = await startMockGpu({ port: 0, capacity: 4, callMs: 20 })
  const port = Number(new URL(gpu.url).port)
  t.after(() => gpu.close())
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(600))
  assert.equal((await runCli(t, ['enqueue', input, '--data-dir', dir, '--batch-size', '20']).exited).code, 0)
  const run = runCli(t, ['start', '--once', '--data-dir', dir, '--workers', '2'], {
    LR_NER_URL: gpu.url,
    LR_NER_ATTEMPTS: '3',
  })
  await run.waitForLine((l) => l.includes('"batch done"'))
  await gpu.close()
  await run.waitForLine((l) => l.includes('entity service unreachable'))
  // While it is down, status says so.
  await new Promise((r) => setTimeout(r, 1500))
  const status = runCli(t, ['status', '--json', '--data-dir', dir])
  await status.exited
  const snap = JSON.parse(status.stdout.join('\n')) as { dependencies: Record<string, { error: string }> }
  assert.ok(
    snap.dependencies['entity service'],
    `status shows the outage: ${JSON.stringify(snap.dependencies)}`,
  )
  await new Promise((r) => setTimeout(r, 3000))
  gpu = await startMockGpu({ port, capacity: 4, callMs: 20 })
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr)
  const logs = logRecords(run.stdout)
  assert.equal(logs.filter((r) => String(r.msg).startsWith('entity service unreachable')).length, 1)
  assert.equal(logs.filter((r) => String(r.msg).startsWith('entity service is back')).length, 1)
  assert.equal(resultCounts(dir).size, 600, 'every document stored')
  assert.deepEqual(
    readdirSync(path.join(dir, 'dead')),
    [],
    'none dead: an outage is not the documents’ fault',
  )
})
