import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import path from 'node:path'
import type { RowDataPacket } from 'mysql2/promise'
import pino from 'pino'
import { loadSettings } from '../src/core/config.js'
import { dispatch } from '../src/feed/dispatch.js'
import { createSourceTable } from '../src/feed/source-table.js'
import { createResultTables } from '../src/sink/mysql-tables.js'
import { ensureLayout, layoutOf } from '../src/store/layout.js'
import { benchDatabase, median, quick, table } from './common.js'

/**
 * dispatch over a 1,000,000-row source_data (30% already processed) into a
 * target that accepts at once, so the figure is the page query alone: ms per
 * page at the start vs the end of the table. For contrast, the same anti-join
 * paged with OFFSET (what keyset paging avoids), first and last page.
 */
export async function dispatchScenario(): Promise<void> {
  const n = quick ? 200_000 : 1_000_000
  const db = await benchDatabase('dispatch')
  const work = mkdtempSync(path.join(tmpdir(), 'lr-bench-dispatch-'))
  try {
    const settings = loadSettings({}, { LR_MYSQL_URL: db.url, LR_DATA_DIR: work })
    await createResultTables(db.pool, settings)
    await createSourceTable(db.pool, settings)
    const fillStarted = performance.now()
    await db.pool.query(
      `INSERT INTO source_data (mid, content)
       SELECT CONCAT('m', seq), CONCAT('document ', seq, ' ', REPEAT('Jack Ma met Tim Cook in Beijing. ', 6))
       FROM seq_1_to_${n}`,
    )
    await db.pool.query(
      `INSERT INTO doc_ent_map (doc_id, ent_list_str, mapped_list_str, batch_id, host)
       SELECT CONCAT('m', seq), '[]', '[]', 'bench', 'bench' FROM seq_1_to_${n} WHERE seq % 10 < 3`,
    )
    const fillS = (performance.now() - fillStarted) / 1000
    const layout = layoutOf(work)
    await ensureLayout(layout)
    let received = 0
    const started = performance.now()
    const result = await dispatch({
      pool: db.pool,
      settings,
      layout,
      target: {
        name: 'null',
        async send(docs) {
          received += docs.length
        },
      },
      log: pino({ level: 'warn' }),
      signal: new AbortController().signal,
    })
    const totalS = (performance.now() - started) / 1000
    if (received !== n * 0.7) throw new Error(`expected ${n * 0.7} rows dispatched, got ${received}`)
    const k = 16 // two bricks' worth of pages
    const first = median(result.pageMs.slice(0, k))
    const last = median(result.pageMs.slice(-k))
    const offsetFirst = await offsetPageMs(db.pool, 0)
    const offsetLast = await offsetPageMs(db.pool, n * 0.7 - 1000)
    console.log(
      `dispatch: ${n} source rows, 30% already in doc_ent_map, page 1000, brick 10000, ${cpus().length} cores; table filled in ${fillS.toFixed(0)} s`,
    )
    console.log(
      table(
        ['paging', 'first page ms', 'last page ms', 'last / first'],
        [
          ['keyset in bricks (dispatch)', first.toFixed(1), last.toFixed(1), (last / first).toFixed(2)],
          [
            'OFFSET (contrast)',
            offsetFirst.toFixed(1),
            offsetLast.toFixed(1),
            (offsetLast / offsetFirst).toFixed(1),
          ],
        ],
      ),
    )
    console.log(
      `(dispatch: median of the first and last ${k} pages of ${result.pages}, ${received} rows in ${totalS.toFixed(1)} s = ${(received / totalS).toFixed(0)} rows/s into a no-op target. OFFSET: median of 3 runs of one page.)`,
    )
  } finally {
    await db.drop()
    rmSync(work, { recursive: true, force: true })
  }
}

async function offsetPageMs(pool: import('mysql2/promise').Pool, offset: number): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < 3; i++) {
    const started = performance.now()
    await pool.query<RowDataPacket[]>(
      `SELECT s.id, s.mid, s.content FROM source_data s LEFT JOIN doc_ent_map r ON r.doc_id = s.mid
       WHERE r.doc_id IS NULL ORDER BY s.id LIMIT 1000 OFFSET ?`,
      [offset],
    )
    times.push(performance.now() - started)
  }
  return median(times)
}
