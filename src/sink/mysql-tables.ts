import type { Pool } from 'mysql2/promise'
import { exactCollation } from '../adapters/mysql.js'

const q = (name: string): string => `\`${name.replace(/`/g, '``')}\``

/** The CREATE TABLE statements of the sink's tables (doc_id compared byte for byte). */
export function resultTablesSql(
  s: { mysqlResultsTable: string; mysqlFailuresTable: string },
  exact: string,
): { results: string; failures: string } {
  return {
    results: `CREATE TABLE IF NOT EXISTS ${q(s.mysqlResultsTable)} (
      id BIGINT AUTO_INCREMENT PRIMARY KEY,
      doc_id VARCHAR(50) CHARACTER SET utf8mb4 COLLATE ${exact} NOT NULL,
      ent_list_str MEDIUMTEXT NOT NULL,
      mapped_list_str MEDIUMTEXT NOT NULL,
      create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
      batch_id VARCHAR(32) NOT NULL,
      host VARCHAR(255) NOT NULL,
      UNIQUE KEY uk_doc_id (doc_id),
      KEY idx_create_time (create_time)
    ) DEFAULT CHARSET=utf8mb4`,
    failures: `CREATE TABLE IF NOT EXISTS ${q(s.mysqlFailuresTable)} (
      id BIGINT AUTO_INCREMENT PRIMARY KEY,
      doc_id VARCHAR(50) CHARACTER SET utf8mb4 COLLATE ${exact} NOT NULL,
      batch_id VARCHAR(32) NOT NULL,
      stage VARCHAR(32) NOT NULL,
      error TEXT NOT NULL,
      attempts INT NOT NULL,
      at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
      KEY idx_doc_id (doc_id)
    ) DEFAULT CHARSET=utf8mb4`,
  }
}

/** The sink's tables, created when missing: results (one row per doc_id) and failures. */
export async function createResultTables(
  pool: Pool,
  s: { mysqlResultsTable: string; mysqlFailuresTable: string },
): Promise<void> {
  // doc_id is compared byte for byte (CaseDoc, casedoc and 'casedoc ' are three documents).
  const sql = resultTablesSql(s, await exactCollation(pool))
  await pool.query(sql.results)
  await pool.query(sql.failures)
}
