import { hostname } from 'node:os'
import { type Clickhouse, clickhouseFailure, connectClickhouse, ident } from '../adapters/clickhouse.js'
import type { Settings } from '../core/config.js'
import type { DocFailure, DocResult, Sink } from '../core/contracts.js'
import { SinkError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { encodeLists } from './result-lists.js'

const RESULT_COLUMNS = [
  'doc_id',
  'ent_list_str',
  'mapped_list_str',
  'create_time',
  'batch_id',
  'host',
  'version',
]

const sinkError = (err: unknown, what: string): SinkError => {
  const f = clickhouseFailure(err, what)
  return new SinkError(f.message, f)
}

/** ClickHouse DateTime text, UTC: `YYYY-MM-DD hh:mm:ss`. */
const dateTime = (d: Date): string => d.toISOString().slice(0, 19).replace('T', ' ')

/**
 * Results into ClickHouse: `doc_ent_map` on ReplacingMergeTree(version) ordered by doc_id,
 * one INSERT per batch. A batch processed twice inserts its rows twice; merges (and
 * `FINAL` before them) keep the newest version of each doc_id, so it reads as one row.
 * Failures go to `doc_failures` alike. Table names are LR_MYSQL_RESULTS_TABLE and
 * LR_MYSQL_FAILURES_TABLE (the results tables, whatever the database).
 */
export class ClickhouseSink implements Sink {
  readonly kind = 'clickhouse'
  private ch: Clickhouse | null = null
  private readonly host = hostname()
  /** Versions grow within a process even for two batches in the same millisecond. */
  private lastVersion = 0

  constructor(
    private readonly settings: Settings,
    private readonly log: Logger,
  ) {}

  async init(): Promise<void> {
    const results = this.settings.mysqlResultsTable
    try {
      this.ch ??= await connectClickhouse(this.settings.clickhouseUrl as string)
      await this.ch.command(
        `CREATE TABLE IF NOT EXISTS ${ident(results)} (
          doc_id String, ent_list_str String, mapped_list_str String, create_time DateTime,
          batch_id String, host String, version UInt64
        ) ENGINE = ReplacingMergeTree(version) ORDER BY doc_id`,
      )
      await this.ch.command(
        `CREATE TABLE IF NOT EXISTS ${ident(this.settings.mysqlFailuresTable)} (
          doc_id String, batch_id String, stage String, error String, attempts UInt32, at DateTime
        ) ENGINE = ReplacingMergeTree(at) ORDER BY (doc_id, batch_id, stage)`,
      )
    } catch (err) {
      throw sinkError(err, 'preparing the ClickHouse tables')
    }
    const have = new Set(
      (await this.ch.rows<{ name: string }>(`DESCRIBE TABLE ${ident(results)}`)).map((c) => c.name),
    )
    const missing = RESULT_COLUMNS.filter((c) => !have.has(c))
    if (missing.length > 0) {
      throw new SinkError(
        `ClickHouse table ${results} does not fit: missing column(s) ${missing.join(', ')}; create it anew or add them`,
        { retryable: false, driverCode: 'LR_TABLE_MISFIT' },
      )
    }
    this.log.info({ database: this.ch.database, table: results }, 'ClickHouse results table checked')
  }

  async write(batchId: string, results: DocResult[]): Promise<void> {
    const ch = this.client()
    const now = dateTime(new Date())
    this.lastVersion = Math.max(this.lastVersion + 1, Date.now() * 1000)
    const version = this.lastVersion
    const format = this.settings.resultFormat === 'list' ? 'list' : 'json'
    const rows = results.map((r) => {
      const [ents, mapped] = encodeLists(r, format)
      return {
        doc_id: r.doc_id,
        ent_list_str: ents,
        mapped_list_str: mapped,
        create_time: now,
        batch_id: batchId,
        host: this.host,
        version,
      }
    })
    try {
      await ch.insert(this.settings.mysqlResultsTable, rows)
    } catch (err) {
      throw sinkError(err, `batch ${batchId}: inserting ${rows.length} rows into ClickHouse`)
    }
  }

  async recordFailures(failures: DocFailure[]): Promise<void> {
    if (failures.length === 0) return
    const at = dateTime(new Date())
    const rows = failures.map((f) => ({
      doc_id: f.doc_id,
      batch_id: f.batch_id,
      stage: f.stage,
      error: f.error.slice(0, 60_000),
      attempts: f.attempts,
      at,
    }))
    try {
      await this.client().insert(this.settings.mysqlFailuresTable, rows)
    } catch (err) {
      throw sinkError(err, `recording ${failures.length} failures in ClickHouse`)
    }
  }

  async close(): Promise<void> {
    await this.ch?.close()
  }

  private client(): Clickhouse {
    if (!this.ch) throw new SinkError('the ClickHouse sink was used before init()', { retryable: false })
    return this.ch
  }
}
