import { hostname } from 'node:os'
import {
  escapeId,
  type Pool,
  type PoolConnection,
  type RowDataPacket,
  escape as sqlLiteral,
} from 'mysql2/promise'
import { createMysqlPool, mysqlFailure } from '../adapters/mysql.js'
import type { Settings } from '../core/config.js'
import type { DocFailure, DocResult, Sink } from '../core/contracts.js'
import { SinkError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { inspectTable, resultTableProblems } from './mysql-schema.js'
import { createResultTables } from './mysql-tables.js'
import { encodeLists } from './result-lists.js'

const sinkError = (err: unknown, what: string): SinkError => {
  const f = mysqlFailure(err, what)
  return new SinkError(f.message, f)
}

/**
 * Rows per INSERT statement, and a budget in characters of SQL (at most 3 bytes each in UTF-8),
 * so a statement stays under the default max_allowed_packet (16 MiB).
 */
const ROWS_PER_STATEMENT = 1000
const BYTES_PER_STATEMENT = 4 * 1024 * 1024

/**
 * Results into MySQL: a batch's rows go in with multi-row INSERT ... ON
 * DUPLICATE KEY UPDATE statements inside one transaction, so a batch is all
 * in or not at all, and a batch processed twice leaves one row per document.
 * Batches that arrive together share a transaction (group commit, write()).
 */
export class MysqlSink implements Sink {
  readonly kind = 'mysql'
  private readonly pool: Pool
  private readonly hostSql = sqlLiteral(hostname())

  /** Group commit across writers (on unless a caller, such as a benchmark baseline, wants one commit per write). */
  private readonly grouped: boolean

  constructor(
    private readonly settings: Settings,
    private readonly log: Logger,
    opts: { groupCommit?: boolean } = {},
  ) {
    this.grouped = opts.groupCommit ?? true
    this.pool = createMysqlPool(settings.mysqlUrl as string, Math.max(2, settings.workers))
  }

  /** `json` or `list` once init() has looked at the table (LR_RESULT_FORMAT=auto). */
  format: 'json' | 'list' = 'json'

  async init(): Promise<void> {
    // One attempt: the caller decides whether to wait (a service) or to stop (a one-shot command).
    const t = this.settings.mysqlResultsTable
    let problems: string[]
    try {
      const before = await inspectTable(this.pool, t)
      problems = resultTableProblems(before)
      if (problems.length === 0) {
        await createResultTables(this.pool, this.settings)
        this.format = await chooseFormat(this.pool, t, this.settings.resultFormat)
      }
    } catch (err) {
      throw sinkError(err, 'preparing the result tables')
    }
    if (problems.length > 0) {
      // Writing into it would fail on every batch: stop here, say what is wrong and what fixes it.
      throw new SinkError(
        `table ${t} does not fit: ${problems.join('; ')}; run \`leftright migrate\` to see the fix`,
        {
          retryable: false,
          driverCode: 'LR_TABLE_MISFIT',
        },
      )
    }
    this.log.info({ table: t, format: this.format }, 'results table checked')
  }

  /** Transactions committed (a group of batches counts once). */
  commits = 0
  private readonly waiting: Pending[] = []
  private flushing = false

  /**
   * Group commit: a write that arrives while another is being committed waits
   * and goes in with the others that arrived meanwhile, in one transaction
   * (one statement when the rows fit). Each write resolves once its rows are
   * committed, and only then; a batch is still all in or not at all.
   */
  write(batchId: string, results: DocResult[]): Promise<void> {
    const rows = this.valueTuples(batchId, results)
    if (!this.grouped) return this.commit([{ batchId, rows }])
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ batchId, rows, resolve, reject })
      if (!this.flushing) void this.flush()
    })
  }

  /**
   * A batch's rows as SQL value tuples, escaped by the driver's own escape, made when the
   * batch is handed over: that work is then done while the commit before it is pending, not
   * on the commit's path. The values shared by the batch (time, batch id, host) are escaped once.
   */
  private valueTuples(batchId: string, results: DocResult[]): string[] {
    const tail = `,${sqlLiteral(new Date())},${sqlLiteral(batchId)},${this.hostSql})`
    return results.map((r) => {
      const [ents, mapped] = encodeLists(r, this.format)
      return `(${sqlLiteral(r.doc_id)},${sqlLiteral(ents)},${sqlLiteral(mapped)}${tail}`
    })
  }

  /**
   * One flusher at a time commits the waiting writes, group after group, on one connection.
   * The next group's statement is sent before the writers of the group just committed go on:
   * the database works on it while they mark their batches done. (Sent after them, it waited
   * behind all that work: a 1,000-row commit into MariaDB took ~11 ms for ~6 ms of its CPU.)
   */
  private async flush(): Promise<void> {
    this.flushing = true
    let conn: PoolConnection | null = null
    try {
      let group: Pending[] | null = takeGroup(this.waiting)
      let sent: Promise<void> | null = null
      while (group) {
        try {
          if (!sent) {
            conn ??= await this.connect(group)
            sent = this.commitOn(conn, group)
          }
          await sent
        } catch (err) {
          // commitOn does not leave a failed connection for reuse.
          conn = null
          sent = null
          await this.groupFailed(group, err)
          group = takeGroup(this.waiting)
          continue
        }
        const committed = group
        group = takeGroup(this.waiting)
        sent = group && conn ? this.commitOn(conn, group) : null
        for (const p of committed) p.resolve()
      }
    } finally {
      conn?.release()
      this.flushing = false
    }
  }

  private async groupFailed(group: Pending[], err: unknown): Promise<void> {
    if (group.length === 1 || (err instanceof SinkError && err.retryable)) {
      // The connection or the server (not the rows): every write in the group fails and is retried by its worker.
      for (const p of group) p.reject(err)
      return
    }
    // One batch's rows may be the cause: each on its own, so a bad batch fails alone.
    for (const p of group) await this.commit([p]).then(p.resolve, p.reject)
  }

  private async connect(group: BatchRows[]): Promise<PoolConnection> {
    try {
      return await this.pool.getConnection()
    } catch (err) {
      throw sinkError(err, `${describe(group)}: connecting`)
    }
  }

  /** One transaction for the group's rows, on a connection of its own. */
  private async commit(group: BatchRows[]): Promise<void> {
    const conn = await this.connect(group)
    await this.commitOn(conn, group)
    conn.release()
  }

  /**
   * One transaction for the group's rows; a single statement (autocommit) when they fit in one,
   * sent before the first await. A connection that fails here is destroyed, never reused.
   */
  private async commitOn(conn: PoolConnection, group: BatchRows[]): Promise<void> {
    const rows = group.length === 1 ? (group[0] as BatchRows).rows : group.flatMap((p) => p.rows)
    const chunks = [...chunkRows(rows)]
    try {
      if (chunks.length > 1) await conn.beginTransaction()
      for (const chunk of chunks) {
        await conn.query(
          `INSERT INTO ${escapeId(this.settings.mysqlResultsTable)} (doc_id, ent_list_str, mapped_list_str, create_time, batch_id, host) VALUES ${chunk.join(',')}
           ON DUPLICATE KEY UPDATE ent_list_str = VALUES(ent_list_str), mapped_list_str = VALUES(mapped_list_str),
             create_time = VALUES(create_time), batch_id = VALUES(batch_id), host = VALUES(host)`,
        )
      }
      if (chunks.length > 1) await conn.commit()
      this.commits++
    } catch (err) {
      if (chunks.length > 1) await conn.rollback().catch(() => {})
      conn.destroy()
      throw sinkError(err, `${describe(group)}: inserting ${rows.length} rows`)
    }
  }

  async recordFailures(failures: DocFailure[]): Promise<void> {
    if (failures.length === 0) return
    const rows = failures.map((f) => [f.doc_id, f.batch_id, f.stage, f.error.slice(0, 60_000), f.attempts])
    try {
      await this.pool.query('INSERT INTO ?? (doc_id, batch_id, stage, error, attempts) VALUES ?', [
        this.settings.mysqlFailuresTable,
        rows,
      ])
    } catch (err) {
      throw sinkError(err, `recording ${failures.length} failures`)
    }
  }

  async close(): Promise<void> {
    await this.pool.end()
  }
}

interface BatchRows {
  batchId: string
  /** SQL value tuples, `(...)`, escaped. */
  rows: string[]
}

/** A write waiting for its group's commit. */
interface Pending extends BatchRows {
  resolve: () => void
  reject: (err: unknown) => void
}

const describe = (group: BatchRows[]): string =>
  `${group.length === 1 ? 'batch' : 'batches'} ${group.map((p) => p.batchId).join(', ')}`

/** Rows of several batches per group, up to one statement's worth (a batch is never split across groups); null when none wait. */
function takeGroup(waiting: Pending[]): Pending[] | null {
  const first = waiting.shift()
  if (first === undefined) return null
  const group = [first]
  let rows = first.rows.length
  let bytes = rowsBytes(first.rows)
  for (let next = waiting[0]; next !== undefined; next = waiting[0]) {
    const b = rowsBytes(next.rows)
    if (rows + next.rows.length > ROWS_PER_STATEMENT || bytes + b > BYTES_PER_STATEMENT) break
    group.push(next)
    waiting.shift()
    rows += next.rows.length
    bytes += b
  }
  return group
}

const rowsBytes = (rows: string[]): number => rows.reduce((n, r) => n + r.length, 0)

function* chunkRows(rows: string[]): Generator<string[]> {
  let chunk: string[] = []
  let bytes = 0
  for (const row of rows) {
    if (
      chunk.length > 0 &&
      (chunk.length >= ROWS_PER_STATEMENT || bytes + row.length > BYTES_PER_STATEMENT)
    ) {
      yield chunk
      chunk = []
      bytes = 0
    }
    chunk.push(row)
    bytes += row.length
  }
  if (chunk.length > 0) yield chunk
}

/** `auto`: `list` for an adopted table whose rows are in the original comma-joined form, else `json`. */
async function chooseFormat(
  pool: Pool,
  table: string,
  setting: 'auto' | 'json' | 'list',
): Promise<'json' | 'list'> {
  if (setting !== 'auto') return setting
  const [rows] = await pool.query<RowDataPacket[]>(
    "SELECT ent_list_str AS v FROM ?? WHERE ent_list_str IS NOT NULL AND ent_list_str <> '' LIMIT 50",
    [table],
  )
  return rows.some((r) => !String(r.v).trimStart().startsWith('[')) ? 'list' : 'json'
}
