import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import path from 'node:path'
import type { RowDataPacket } from 'mysql2/promise'
import {
  againstBase,
  argAfter,
  cli,
  median,
  quick,
  rotated,
  runCliAt,
  runTimed,
  table,
  withTables,
  writeSampleJsonl,
} from './common.js'

/**
 * `npm run bench -- start-sink --base REV [--dir DIR] [--docs N] [--rounds N] [--file]`:
 * `start --once` alone, sink-bound (200,000 documents in 2,000 batches, no recognition, into
 * MariaDB), this tree against a baseline revision. One data dir is enqueued once; every run
 * starts from a copy of it, so both contenders find the same batch files. With `--file`: `start
 * --once FILE` on an empty data dir instead, the enqueueing included. A longer run (--docs)
 * shows what a run's own deletions cost: ext4 without a journal skips inodes freed from one
 * second to minutes ago. `--dir` puts the data dirs on another file system (on these machines'
 * journal-less ext4 a create slows down with every recent deletion: a journaled ext4 or a tmpfs
 * takes that out; bench/RESULTS.md, tenth session, says why).
 * Rounds alternate who goes first; medians. Run dirs are removed only after the last round.
 */
export async function startSinkScenario(): Promise<void> {
  const n = Number(argAfter('--docs') ?? (quick ? 20_000 : 200_000))
  const rounds = Number(argAfter('--rounds') ?? (quick ? 1 : 5))
  // --file: `start --once FILE` on an empty data dir (the file enqueued by the process itself).
  const withFile = process.argv.includes('--file')
  const { baseRev, work, base } = againstBase('start-sink')
  const dirs = mkdtempSync(path.join(argAfter('--dir') ?? tmpdir(), 'lr-bench-start-sink-dirs-'))
  const seconds: Record<string, number[]> = {}
  try {
    const template = path.join(dirs, 'template')
    const input = writeSampleJsonl(work, n)
    if (!withFile) runCliAt(cli, ['enqueue', input, '--data-dir', template])
    const contenders = [
      { name: `base ${baseRev}`, tag: 'base', script: base.bin },
      { name: 'this tree', tag: 'tree', script: cli },
    ]
    for (let round = 0; round < rounds; round++) {
      for (const c of rotated(contenders, round)) {
        const dataDir = path.join(dirs, `run-${round}-${c.tag}`)
        if (!withFile) cpSync(template, dataDir, { recursive: true })
        await withTables('ssink', async (db) => {
          const r = await runTimed(
            c.script,
            ['start', '--once', ...(withFile ? [input] : []), '--data-dir', dataDir, '--recognizer', 'none'],
            {
              LR_MYSQL_URL: db.url,
            },
          )
          const [[row]] = await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM doc_ent_map')
          if (Number(row?.n) !== n) throw new Error(`${c.name}: ${row?.n} rows stored, expected ${n}`)
          seconds[c.name] = [...(seconds[c.name] ?? []), r.seconds]
        })
        // The run dirs are removed at the end, all at once: on a journal-less ext4 each deletion
        // slows the creates of the next minutes, and the harness's deletions are not the job's.
      }
    }
    const baseS = median(seconds[`base ${baseRev}`] ?? [])
    console.log(
      `start-sink: start --once${withFile ? ' FILE' : ''}, ${n} documents (batches of 100, 4 workers, no recognition) into MariaDB; data dirs under ${path.dirname(dirs)}; ${cpus().length} cores; ${rounds} round(s) alternated, medians`,
    )
    console.log(
      table(
        ['contender', 'seconds (each round)', 'median s', 'docs/s', 'vs base'],
        contenders.map((c) => {
          const s = seconds[c.name] ?? []
          return [
            c.name,
            s.map((x) => x.toFixed(2)).join(' '),
            median(s).toFixed(2),
            (n / median(s)).toFixed(0),
            `${(baseS / median(s)).toFixed(2)}x`,
          ]
        }),
      ),
    )
  } finally {
    base.remove()
    rmSync(work, { recursive: true, force: true })
    rmSync(dirs, { recursive: true, force: true })
  }
}
