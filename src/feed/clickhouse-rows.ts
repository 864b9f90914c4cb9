import { type Clickhouse, ident } from '../adapters/clickhouse.js'
import type { SourceRow, SourceRows } from './dispatch.js'

/**
 * `dispatch --from clickhouse`: `source_data(id, mid, content)` in ClickHouse, the rows whose
 * mid has no row in the results table (an anti-join, `NOT IN`), paged by id. Ids are integers
 * checked by the caller's arithmetic, names are plain identifiers: nothing else is spliced in.
 */
export function clickhouseRows(ch: Clickhouse, tables: { source: string; results: string }): SourceRows {
  const src = ident(tables.source)
  const missing = `mid NOT IN (SELECT doc_id FROM ${ident(tables.results)})`
  const int = (n: number): string => {
    if (!Number.isSafeInteger(n)) throw new Error(`not an id: ${n}`)
    return String(n)
  }
  return {
    name: tables.source,
    async maxId() {
      const [r] = await ch.rows<{ m: string }>(`SELECT max(id) AS m FROM ${src}`)
      return Number(r?.m ?? 0)
    },
    async countMissing(fromId, toId) {
      const [r] = await ch.rows<{ n: string }>(
        `SELECT count() AS n FROM ${src} WHERE id > ${int(fromId)} AND id <= ${int(toId)} AND ${missing}`,
      )
      return Number(r?.n ?? 0)
    },
    async page(afterId, toId, limit) {
      return ch.rows<SourceRow>(
        `SELECT id, mid, content FROM ${src} WHERE id > ${int(afterId)} AND id <= ${int(toId)} AND ${missing}
         ORDER BY id LIMIT ${int(limit)}`,
      )
    },
  }
}
