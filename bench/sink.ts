import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, hostname, tmpdir } from 'node:os'
import path from 'node:path'
import type { Pool, RowDataPacket } from 'mysql2/promise'
import { loadSettings } from '../src/core/config.js'
import { createSourceTable } from '../src/feed/source-table.js'
import { createResultTables } from '../src/sink/mysql-tables.js'
import { benchDatabase, median, quick, runCli, table, writeSampleJsonl } from './common.js'

const BATCH = 100

/**
 * 100,000 results into MariaDB: the pool end to end (`start --once`, no-op
 * recognizer, MySQL sink) vs a row-by-row autocommit INSERT of the same rows
 * (the original scripts' way) vs LOAD DATA LOCAL INFILE of the same rows (the limit).
 */
export async function sinkScenario(): Promise<void> {
  const docs = quick ? 20_000 : 100_000
  const rounds = quick ? 1 : 2
  const db = await benchDatabase('sink')
  const work = mkdtempSync(path.join(tmpdir(), 'lr-bench-sink-'))
  const settings = loadSettings({}, { LR_MYSQL_URL: db.url })
  const input = writeSampleJsonl(work, docs)
  const rows = sameRows(docs)
  const tsv = path.join(work, 'rows.tsv')
  writeFileSync(tsv, `${rows.map((r) => r.join('\t')).join('\n')}\n`)
  const rate: Record<string, number[]> = { pool: [], 'row-by-row': [], 'LOAD DATA': [] }
  let enqueueRate = 0
  try {
    await createResultTables(db.pool, settings)
    await createSourceTable(db.pool, settings)
    for (let round = 0; round < rounds; round++) {
      // pool: the batches are enqueued first (not timed), then the whole CLI run is timed.
      await reset(db.pool)
      const dataDir = path.join(work, `data-${round}`)
      enqueueRate = docs / runCli(['enqueue', input, '--data-dir', dataDir, '--batch-size', String(BATCH)])
      const poolS = runCli(['start', '--once', '--data-dir', dataDir, '--recognizer', 'none'], {
        LR_MYSQL_URL: db.url,
      })
      await expectRows(db.pool, docs)
      rate.pool?.push(docs / poolS)
      rmSync(dataDir, { recursive: true, force: true })

      await reset(db.pool)
      rate['row-by-row']?.push(docs / (await rowByRow(db.pool, rows)))
      await expectRows(db.pool, docs)

      await reset(db.pool)
      rate['LOAD DATA']?.push(docs / (await loadData(db.pool, tsv)))
      await expectRows(db.pool, docs)
    }
  } finally {
    await db.drop()
    rmSync(work, { recursive: true, force: true })
  }
  const base = median(rate['row-by-row'] ?? [1])
  console.log(
    `sink: ${docs} results into MariaDB (127.0.0.1), batch ${BATCH}, 4 workers, recognizer none, ${cpus().length} cores, ${rounds} round(s)`,
  )
  console.log(
    table(
      ['contender', 'rows/s', 'vs row-by-row'],
      Object.entries(rate).map(([name, xs]) => [
        name,
        median(xs).toFixed(0),
        `${(median(xs) / base).toFixed(1)}x`,
      ]),
    ),
  )
  console.log(
    `(pool: wall time of \`start --once\` from left/ to committed rows, start-up included; enqueue ran at ${enqueueRate.toFixed(0)} docs/s, not counted.` +
      ' row-by-row: one autocommit INSERT per row on one connection. LOAD DATA: the statement alone, file already written.)',
  )
}

/** The rows the pool writes for the no-op recognizer, batch ids and all. */
export function sameRows(n: number): string[][] {
  const host = hostname()
  const at = new Date().toISOString().slice(0, 19).replace('T', ' ')
  return Array.from({ length: n }, (_, i) => [
    `bench-${i}`,
    '[]',
    '[]',
    at,
    `batch${String(Math.floor(i / BATCH)).padStart(17, '0')}`,
    host,
  ])
}

async function reset(pool: Pool): Promise<void> {
  await pool.query('TRUNCATE TABLE doc_ent_map')
}

async function expectRows(pool: Pool, n: number): Promise<void> {
  const [[r]] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM doc_ent_map')
  if (Number(r?.n) !== n) throw new Error(`expected ${n} rows, found ${r?.n}`)
}

async function rowByRow(pool: Pool, rows: string[][]): Promise<number> {
  const conn = await pool.getConnection()
  const started = performance.now()
  try {
    for (const row of rows) {
      await conn.query(
        'INSERT INTO doc_ent_map (doc_id, ent_list_str, mapped_list_str, create_time, batch_id, host) VALUES (?, ?, ?, ?, ?, ?)',
        row,
      )
    }
  } finally {
    conn.release()
  }
  return (performance.now() - started) / 1000
}

export async function loadData(pool: Pool, file: string): Promise<number> {
  const conn = await pool.getConnection()
  const started = performance.now()
  try {
    await conn.query({
      sql: `LOAD DATA LOCAL INFILE ? INTO TABLE doc_ent_map CHARACTER SET utf8mb4
            FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n'
            (doc_id, ent_list_str, mapped_list_str, create_time, batch_id, host)`,
      values: [file],
      infileStreamFactory: (p: string) => createReadStream(p),
    })
  } finally {
    conn.release()
  }
  return (performance.now() - started) / 1000
}
