import { existsSync, rmSync } from 'node:fs'
import path from 'node:path'
import { startGpuProcess } from '../scripts/mock-gpu-process.js'
import {
  againstBase,
  argAfter,
  cli,
  countResults,
  median,
  quick,
  runCliAt,
  runCliAtAsync,
  table,
  writeSampleJsonl,
} from './common.js'
import { type SlotBreakdown, slotBreakdown } from './slot-timeline.js'

const CAPACITY = 4

/**
 * `npm run bench -- cap [--base REV] [--cap N] [--docs N] [--rounds N]`: LR_GPU_CONCURRENCY =
 * 4x (or N) the capacity of the mock service (capacity 4, 20 ms + 1 ms per document, connection
 * reset over capacity), 2,000 documents (or N), `start --once`. Contenders, alternated over
 * rounds: the baseline revision (whatever its cap does) and this tree, each on a fresh data dir
 * (slow start) and on a data dir whose earlier run learned the limit (remembered in
 * state/gpu.json). Calls refused, the service's busy share in its window, documents stored.
 */
export async function capScenario(): Promise<void> {
  const docs = Number(argAfter('--docs') ?? 2000)
  const cap = Number(argAfter('--cap') ?? 4 * CAPACITY)
  const rounds = Number(argAfter('--rounds') ?? (quick ? 1 : 5))
  const { baseRev, work, base } = againstBase('cap')
  const gpu = await startGpuProcess({
    capacity: CAPACITY,
    callMs: 20,
    docMs: 1,
    over: 'reset',
    timeline: true,
  })
  const out: Record<
    string,
    { refused: number[]; busy: number[]; stored: number[]; seconds: number[]; slots: SlotBreakdown[] }
  > = {}
  try {
    const input = writeSampleJsonl(work, docs)
    const env = { LR_NER_URL: gpu.url, LR_GPU_CONCURRENCY: String(cap) }
    const once = async (name: string, bin: string, dataDir: string) => {
      runCliAt(bin, ['enqueue', input, '--data-dir', dataDir])
      // A data dir that ran before (the remembered limit) already holds that run's results.
      const before = existsSync(path.join(dataDir, 'results')) ? countResults(dataDir) : 0
      await gpu.resetStats()
      const seconds = await runCliAtAsync(bin, ['start', '--once', '--data-dir', dataDir], env)
      const s = await gpu.stats()
      const row = out[name] ?? { refused: [], busy: [], stored: [], seconds: [], slots: [] }
      out[name] = row
      row.refused.push((100 * s.rejected) / Math.max(1, s.calls))
      row.busy.push((100 * s.busyMs) / Math.max(1, CAPACITY * s.activeMs))
      row.stored.push(countResults(dataDir) - before)
      row.seconds.push(seconds)
      if (s.timeline) row.slots.push(slotBreakdown(s.timeline, CAPACITY))
    }
    for (let round = 0; round < rounds; round++) {
      const warm = path.join(work, `warm-${round}`)
      const baseWarm = path.join(work, `base-warm-${round}`)
      // Each build learns the limit once on a data dir of its own; its second run below starts there
      // (a baseline from before the limit was remembered starts as it always does).
      for (const [bin, dir] of [
        [cli, warm],
        [base.bin, baseWarm],
      ] as const) {
        runCliAt(bin, ['enqueue', input, '--data-dir', dir])
        await runCliAtAsync(bin, ['start', '--once', '--data-dir', dir], env)
      }
      const order = [
        [
          'base',
          () => once(`baseline ${baseRev}, fresh data dir`, base.bin, path.join(work, `base-${round}`)),
        ],
        ['base-warm', () => once(`baseline ${baseRev}, second run on a data dir`, base.bin, baseWarm)],
        ['slow', () => once('this tree, fresh data dir (slow start)', cli, path.join(work, `slow-${round}`))],
        ['warm', () => once('this tree, limit remembered from an earlier run', cli, warm)],
      ] as const
      const turn = round % order.length
      for (const [, run] of [...order.slice(turn), ...order.slice(0, turn)]) await run()
    }
  } finally {
    await gpu.close()
    base.remove()
    rmSync(work, { recursive: true, force: true })
  }
  // A median alone hides a goal met in some rounds and missed in others.
  const spread = (xs: number[]): string =>
    `${median(xs).toFixed(1)}% (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})`
  console.log(
    `cap: ${docs} documents, LR_GPU_CONCURRENCY=${cap}, mock capacity ${CAPACITY} (20 ms + 1 ms/doc, reset over capacity), ${rounds} round(s) alternated, medians`,
  )
  console.log(
    table(
      [
        'contender',
        'calls refused (min-max)',
        'service busy in its window (min-max)',
        'documents stored',
        'seconds',
      ],
      Object.entries(out).map(([name, r]) => [
        name,
        spread(r.refused),
        spread(r.busy),
        `${Math.min(...r.stored)} of ${docs}`,
        median(r.seconds).toFixed(2),
      ]),
    ),
  )
  const pct = (xs: number[]): string => `${(100 * median(xs)).toFixed(1)}%`
  const ms = (xs: (number | null)[]): string => {
    const known = xs.filter((x): x is number => x !== null)
    return known.length === 0 ? '-' : median(known).toFixed(1)
  }
  console.log("Where the idle slot time went (the mock's timeline; shares of capacity x window, medians):")
  console.log(
    table(
      [
        'contender',
        'all slots in use after (ms)',
        'ramp',
        'hand-overs',
        'hand-over median / p90 (ms)',
        'tail',
      ],
      Object.entries(out).map(([name, r]) => [
        name,
        ms(r.slots.map((b) => b.firstFullMs)),
        pct(r.slots.map((b) => b.rampIdle)),
        pct(r.slots.map((b) => b.handoverIdle)),
        `${ms(r.slots.map((b) => b.handoverMedianMs))} / ${ms(r.slots.map((b) => b.handoverP90Ms))}`,
        pct(r.slots.map((b) => b.tailIdle)),
      ]),
    ),
  )
}
