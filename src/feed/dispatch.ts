import type { Pool, RowDataPacket } from 'mysql2/promise'
import { exactCollation } from '../adapters/mysql.js'
import type { Settings } from '../core/config.js'
import type { Doc } from '../core/contracts.js'
import type { Logger } from '../core/log.js'
import { newBatch, writePackedBatch } from '../store/batches.js'
import { dispatchCheckpointFile, type Layout } from '../store/layout.js'
import { writeDead } from '../store/set-aside.js'
import type { DiskRoom } from './disk-room.js'
import { loadCheckpoint, saveCheckpoint } from './dispatch-checkpoint.js'

/** A row of source_data: `mid` is the doc_id, `content` the text (either may be NULL). */
export interface SourceRow {
  id: number | string
  mid: unknown
  content: unknown
}

/** source_data rows that have no result yet, paged by id (MySQL or ClickHouse). */
export interface SourceRows {
  /** The source table's name: checkpoint file and dead/ entries. */
  readonly name: string
  maxId(): Promise<number>
  /** Rows with fromId < id <= toId and no result. */
  countMissing(fromId: number, toId: number): Promise<number>
  /** Up to `limit` of those rows with afterId < id <= toId, by id. */
  page(afterId: number, toId: number, limit: number): Promise<SourceRow[]>
}

/** MySQL: the anti-join compares doc_ids byte for byte, whatever the tables' own collations. */
export function mysqlRows(pool: Pool, s: Settings): SourceRows {
  // Asked when first needed (exactCollation caches it per pool).
  const sameDoc = async (): Promise<string> =>
    `r.doc_id = CONVERT(s.mid USING utf8mb4) COLLATE ${await exactCollation(pool)}`
  return {
    name: s.mysqlSourceTable,
    async maxId() {
      const [[row]] = await pool.query<RowDataPacket[]>('SELECT COALESCE(MAX(id), 0) AS maxId FROM ??', [
        s.mysqlSourceTable,
      ])
      return Number(row?.maxId ?? 0)
    },
    async countMissing(fromId, toId) {
      const [[row]] = await pool.query<RowDataPacket[]>(
        `SELECT COUNT(*) AS n FROM ?? s LEFT JOIN ?? r ON ${await sameDoc()} WHERE s.id > ? AND s.id <= ? AND r.doc_id IS NULL`,
        [s.mysqlSourceTable, s.mysqlResultsTable, fromId, toId],
      )
      return Number(row?.n ?? 0)
    },
    async page(afterId, toId, limit) {
      const [rows] = await pool.query<RowDataPacket[]>(
        `SELECT s.id, s.mid, s.content FROM ?? s LEFT JOIN ?? r ON ${await sameDoc()}
         WHERE s.id > ? AND s.id <= ? AND r.doc_id IS NULL ORDER BY s.id LIMIT ?`,
        [s.mysqlSourceTable, s.mysqlResultsTable, afterId, toId, limit],
      )
      return rows as SourceRow[]
    },
  }
}

/** Where dispatched documents go: a Kafka topic, or batch files in left/. */
export interface DispatchTarget {
  readonly name: string
  /** Resolve only once the target has the documents durably (Kafka acks, fsynced files). */
  send(docs: Doc[]): Promise<void>
}

export interface DispatchProgress {
  sent: number
  total: number
  lastId: number
  maxId: number
}

export interface DispatchResult extends DispatchProgress {
  pages: number
  /** Source rows set aside: NULL or empty mid, NULL content. */
  skipped: number
  pageMs: number[]
}

/**
 * source rows without a result -> target. Keyset paging by id inside id
 * "bricks" (never OFFSET): each page is `id > last AND id <= brick end AND no
 * result row`, LIMIT pageSize. After each page is acknowledged, the checkpoint
 * moves to its last id; a rerun continues from there.
 */
export async function dispatch(opts: {
  /** Source rows from MySQL (this pool), unless `rows` reads them elsewhere (ClickHouse). */
  pool?: Pool
  rows?: SourceRows
  settings: Settings
  layout: Layout
  target: DispatchTarget
  log: Logger
  signal: AbortSignal
  onProgress?: (p: DispatchProgress) => void
}): Promise<DispatchResult> {
  const { settings: s, target, signal } = opts
  const source = opts.rows ?? mysqlRows(opts.pool as Pool, s)
  const file = dispatchCheckpointFile(opts.layout, source.name, target.name)
  const cp = await loadCheckpoint(file)
  let lastId = cp?.lastId ?? 0
  let sent = cp?.sent ?? 0
  const maxId = await source.maxId()
  const total = sent + (await source.countMissing(lastId, maxId))
  opts.log.info({ from: lastId, maxId, toSend: total - sent, target: target.name }, 'dispatch starting')
  const result: DispatchResult = { sent, total, lastId, maxId, pages: 0, pageMs: [], skipped: 0 }

  while (lastId < maxId && !signal.aborted) {
    const brickEnd = Math.min(maxId, (Math.floor(lastId / s.dispatchBrickSize) + 1) * s.dispatchBrickSize)
    const started = performance.now()
    const rows = await source.page(lastId, brickEnd, s.dispatchPageSize)
    // Rows that cannot be documents are set aside (dead/, one line per page), never sent.
    const docs: Doc[] = []
    let skipped = 0
    for (const r of rows) {
      const why = notADocument(r)
      if (why === null) {
        docs.push({ doc_id: textOf(r.mid), text: textOf(r.content) })
        continue
      }
      skipped++
      await writeDead(opts.layout, {
        stage: 'dispatch',
        reason: why,
        source: { table: source.name, id: Number(r.id) },
        ...(r.mid === null ? {} : { doc_id: textOf(r.mid) }),
      })
    }
    if (skipped > 0) {
      opts.log.warn(
        { skipped, table: source.name, fromId: lastId },
        'source rows that are not documents set aside in dead/',
      )
    }
    result.skipped += skipped
    if (docs.length > 0) {
      await target.send(docs)
      sent += docs.length
    }
    result.pageMs.push(performance.now() - started)
    result.pages++
    // A short page means the brick is exhausted: continue at its end.
    lastId = rows.length < s.dispatchPageSize ? brickEnd : Number((rows[rows.length - 1] as SourceRow).id)
    await saveCheckpoint(file, {
      source: source.name,
      target: target.name,
      lastId,
      sent,
      updatedAt: new Date().toISOString(),
    })
    Object.assign(result, { sent, lastId })
    opts.onProgress?.({ sent, total, lastId, maxId })
  }
  return result
}

/**
 * `--to-left`: batch files of batchSize documents, each written durably. Under the disk floor, or
 * on a full disk, it waits for space (`room`) instead of failing.
 */
export function leftTarget(layout: Layout, batchSize: number, room: DiskRoom): DispatchTarget {
  return {
    name: 'left',
    async send(docs) {
      for (let i = 0; i < docs.length; i += batchSize) {
        const batch = newBatch(docs.slice(i, i + batchSize), 'dispatch')
        await room.waitForFloor(batch.data.length)
        await room.write(() => writePackedBatch(layout, batch))
      }
    },
  }
}

/** A column value as text (mysql2 returns binary-collated strings as Buffers on some servers). */
const textOf = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v))

/** Why a source row cannot be a document, or null when it can. */
function notADocument(r: SourceRow): string | null {
  if (r.mid === null || r.mid === undefined) return 'mid is NULL'
  if (textOf(r.mid).trim() === '') return 'mid is empty'
  if (r.content === null || r.content === undefined) return 'content is NULL'
  return null
}
