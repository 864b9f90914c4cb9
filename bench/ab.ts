import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import path from 'node:path'
import type { RowDataPacket } from 'mysql2/promise'
import {
  baseRevision,
  benchDatabase,
  buildRevision,
  cli,
  median,
  quick,
  runCliAt,
  table,
  writeSampleJsonl,
} from './common.js'

/**
 * `npm run bench -- ab [--base REV] [--quick]`: this working tree against a
 * baseline revision (--base REV, default HEAD: the last commit),
 * side by side in one run, rounds alternated: the pool job (enqueue + `start
 * --once`, recognizer none and dictionary, file sink) and the sink job (`start
 * --once` into MariaDB). The baseline is checked out into a temp worktree and
 * built with this checkout's node_modules.
 */
export async function abScenario(): Promise<void> {
  const baseRev = baseRevision('HEAD')
  const docs = quick ? 5000 : 20_000
  const rounds = quick ? 1 : 3
  const work = mkdtempSync(path.join(tmpdir(), 'lr-bench-ab-'))
  const base = buildRevision(baseRev, work)
  try {
    const contenders = { base: base.bin, now: cli }
    const input = writeSampleJsonl(work, docs)
    const db = await benchDatabase('ab')
    const rates: Record<string, number[]> = {}
    const push = (k: string, v: number) => {
      rates[k] ??= []
      rates[k].push(v)
    }
    try {
      for (let round = 0; round < rounds; round++) {
        // Alternate who goes first so drift in the machine spreads over both.
        const order = round % 2 === 0 ? (['base', 'now'] as const) : (['now', 'base'] as const)
        for (const who of order) {
          const bin = contenders[who]
          for (const recognizer of ['none', 'dictionary']) {
            const dataDir = path.join(work, `${who}-${recognizer}-${round}`)
            const e = runCliAt(bin, ['enqueue', input, '--data-dir', dataDir])
            if (recognizer === 'none') push(`enqueue|${who}`, docs / e)
            const s = runCliAt(bin, ['start', '--once', '--data-dir', dataDir, '--recognizer', recognizer])
            push(`pool ${recognizer}|${who}`, docs / s)
            rmSync(dataDir, { recursive: true, force: true })
          }
          await db.pool.query('DROP TABLE IF EXISTS doc_ent_map, doc_failures, entity_dict')
          const dataDir = path.join(work, `${who}-sink-${round}`)
          runCliAt(bin, ['enqueue', input, '--data-dir', dataDir])
          const s = runCliAt(bin, ['start', '--once', '--data-dir', dataDir, '--recognizer', 'none'], {
            LR_MYSQL_URL: db.url,
          })
          const [[row]] = await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM doc_ent_map')
          if (Number(row?.n) !== docs) throw new Error(`${who}: ${row?.n} rows, expected ${docs}`)
          push(`sink mysql|${who}`, docs / s)
          rmSync(dataDir, { recursive: true, force: true })
        }
      }
    } finally {
      await db.drop()
    }
    console.log(
      `ab: ${docs} documents, batch 100, 4 workers, ${cpus().length} cores, ${rounds} round(s) alternated; base = ${baseRev}`,
    )
    const jobs = ['enqueue', 'pool none', 'pool dictionary', 'sink mysql']
    console.log(
      table(
        ['job', 'base docs/s', 'now docs/s', 'now / base'],
        jobs.map((j) => {
          const b = median(rates[`${j}|base`] ?? [0])
          const n = median(rates[`${j}|now`] ?? [0])
          return [j, b.toFixed(0), n.toFixed(0), `${(n / b).toFixed(2)}x`]
        }),
      ),
    )
    console.log(
      '(wall time of the whole process: `enqueue` of the JSONL file, then `start --once`; medians over rounds)',
    )
  } finally {
    base.remove()
    rmSync(work, { recursive: true, force: true })
  }
}
