import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import path from 'node:path'
import { defaults } from '../src/core/config.js'
import { collectStatus } from '../src/ops/status.js'
import { encodeBatch } from '../src/store/batch-file.js'
import { ensureLayout, layoutOf, leftFile, newBatchId } from '../src/store/layout.js'
import { median, quick, table } from './common.js'

const opts = { staleMs: defaults.staleMs, minFreeDisk: defaults.minFreeDisk }

async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

function doneMarker(i: number): string {
  const at = new Date(Date.now() - i * 100).toISOString()
  return JSON.stringify({
    state: 'done',
    host: hostname(),
    pid: 1,
    worker: 'w0',
    claim: 'c',
    claimedAt: at,
    finishedAt: at,
    docs: 100,
    ok: 100,
    failed: 0,
  })
}

/**
 * `status` over a data dir with N done batches and 100 pending ones. Cold: no
 * state/status-index.json (every marker and batch header is read, as `status`
 * did before the index). Warm: the index is there and nothing changed. Warm + 100:
 * 100 batches were done since the last call.
 */
export async function statusScenario(): Promise<void> {
  const sizes = quick ? [1000, 10_000] : [1000, 10_000, 100_000]
  const rows: (string | number)[][] = []
  for (const n of sizes) {
    const dir = mkdtempSync(path.join(tmpdir(), 'lr-bench-status-'))
    try {
      const layout = layoutOf(dir)
      await ensureLayout(layout)
      for (let i = 0; i < n; i++) writeFileSync(markerPathOf(layout, newBatchId()), doneMarker(i))
      const docs = Array.from({ length: 100 }, (_, i) => ({ doc_id: `d${i}`, text: 'Jack Ma in Hangzhou' }))
      for (let i = 0; i < 100; i++) {
        const id = newBatchId()
        writeFileSync(leftFile(layout, id), encodeBatch(id, docs))
      }
      const cold = await timeMs(() => collectStatus(layout, opts))
      const warmRuns: number[] = []
      for (let i = 0; i < 3; i++) warmRuns.push(await timeMs(() => collectStatus(layout, opts)))
      const warm = median(warmRuns)
      for (let i = 0; i < 100; i++) writeFileSync(markerPathOf(layout, newBatchId()), doneMarker(i))
      const warmPlus = await timeMs(() => collectStatus(layout, opts))
      rows.push([
        n.toLocaleString('en'),
        cold.toFixed(0),
        warm.toFixed(0),
        warmPlus.toFixed(0),
        `${(warm / cold).toFixed(2)}x`,
      ])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  console.log('status: N done batches (markers in right/) + 100 pending batches of 100 documents')
  console.log(
    table(
      [
        'done batches',
        'cold ms (no index: reads every marker)',
        'warm ms (index)',
        'warm + 100 new done ms',
        'warm / cold',
      ],
      rows,
    ),
  )
}

function markerPathOf(layout: { right: string }, id: string): string {
  return path.join(layout.right, id)
}
