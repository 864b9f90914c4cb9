import { rmSync } from 'node:fs'
import path from 'node:path'
import { againstBase, argAfter, cli, median, quick, runTimed, table, writeSampleJsonl } from './common.js'

/**
 * `npm run bench -- enqueue [--base REV] [--docs N] [--rounds N]`: `enqueue` of the sample
 * repeated to 200,000 documents (or N) into a fresh data dir, this tree against a baseline
 * revision (default HEAD~1), rounds alternated: wall time of the whole process and peak RSS.
 */
export async function enqueueScenario(): Promise<void> {
  const docs = Number(argAfter('--docs') ?? (quick ? 20_000 : 200_000))
  const rounds = Number(argAfter('--rounds') ?? (quick ? 1 : 7))
  const { baseRev, work, base } = againstBase('enqueue')
  const input = writeSampleJsonl(work, docs)
  const seconds: Record<string, number[]> = { base: [], now: [] }
  const rss: Record<string, number[]> = { base: [], now: [] }
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['base', 'now'] as const) : (['now', 'base'] as const)
      for (const who of order) {
        const dataDir = path.join(work, `${who}-${round}`)
        const run = await runTimed(
          who === 'base' ? base.bin : cli,
          ['enqueue', input, '--data-dir', dataDir],
          {},
        )
        seconds[who]?.push(run.seconds)
        rss[who]?.push(run.maxRssKb / 1024)
        rmSync(dataDir, { recursive: true, force: true })
      }
    }
  } finally {
    base.remove()
    rmSync(work, { recursive: true, force: true })
  }
  const b = median(seconds.base ?? [1])
  const n = median(seconds.now ?? [1])
  console.log(
    `enqueue: ${docs} documents (the sample repeated), a fresh data dir each, ${rounds} round(s) alternated, medians; base = ${baseRev}`,
  )
  console.log(
    table(
      ['contender', 'seconds', 'docs/s', 'vs base', 'peak RSS (MB)'],
      [
        [`base ${baseRev}`, b.toFixed(2), (docs / b).toFixed(0), '1.00x', median(rss.base ?? [0]).toFixed(0)],
        [
          'this tree',
          n.toFixed(2),
          (docs / n).toFixed(0),
          `${(b / n).toFixed(2)}x`,
          median(rss.now ?? [0]).toFixed(0),
        ],
      ],
    ),
  )
}
