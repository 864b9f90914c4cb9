import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import path from 'node:path'
import { median, quick, runCli, table, writeSampleJsonl } from './common.js'

/** enqueue and `start --once` through the real CLI, with each recognizer, side by side. */
export async function poolScenario(): Promise<void> {
  const docs = quick ? 2000 : 10_000
  const rounds = quick ? 1 : 2
  const recognizers = ['builtin', 'dictionary', 'none']
  const work = mkdtempSync(path.join(tmpdir(), 'lr-bench-'))
  const input = writeSampleJsonl(work, docs)
  const rows: Record<string, { enqueue: number[]; run: number[] }> = {}
  try {
    // Alternate contenders round by round so machine noise spreads over all of them.
    for (let round = 0; round < rounds; round++) {
      for (const recognizer of recognizers) {
        const dataDir = path.join(work, `${recognizer}-${round}`)
        const enqueueS = runCli(['enqueue', input, '--data-dir', dataDir])
        const runS = runCli(['start', '--once', '--data-dir', dataDir, '--recognizer', recognizer])
        rows[recognizer] ??= { enqueue: [], run: [] }
        rows[recognizer].enqueue.push(docs / enqueueS)
        rows[recognizer].run.push(docs / runS)
        rmSync(dataDir, { recursive: true, force: true })
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  const base = median(rows.none?.run ?? [1])
  console.log(
    `pool: ${docs} documents, batch 100, 4 workers, gpu-concurrency 2, ${cpus().length} cores, ${rounds} round(s)`,
  )
  console.log(
    table(
      ['recognizer', 'start --once docs/s', 'vs none', 'enqueue docs/s'],
      recognizers.map((r) => {
        const row = rows[r] as { enqueue: number[]; run: number[] }
        const run = median(row.run)
        return [r, run.toFixed(0), (run / base).toFixed(2), median(row.enqueue).toFixed(0)]
      }),
    ),
  )
  console.log('(wall time of the whole CLI process, start-up and thread warm-up included)')
}
