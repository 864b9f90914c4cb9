import mysql, { type Pool } from 'mysql2/promise'
import type { Settings } from '../config.js'
import { ErrorCodes, LrError } from '../errors.js'

/** Shared by the sink and dispatch: one pool, the table DDL, error classification. */
export function createMysqlPool(url: string, connectionLimit = 4): Pool {
  return mysql.createPool({
    uri: url,
    connectionLimit,
    charset: 'utf8mb4',
    enableKeepAlive: true,
    connectTimeout: 5000,
    supportBigNumbers: true,
  })
}

export async function createTables(pool: Pool, s: Settings): Promise<void> {
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ?? (
      id BIGINT AUTO_INCREMENT PRIMARY KEY,
      doc_id VARCHAR(50) NOT NULL,
      ent_list_str MEDIUMTEXT NOT NULL,
      mapped_list_str MEDIUMTEXT NOT NULL,
      create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
      batch_id VARCHAR(32) NOT NULL,
      host VARCHAR(255) NOT NULL,
      UNIQUE KEY uk_doc_id (doc_id),
      KEY idx_create_time (create_time)
    ) DEFAULT CHARSET=utf8mb4`,
    [s.mysqlResultsTable],
  )
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ?? (
      id BIGINT AUTO_INCREMENT PRIMARY KEY,
      doc_id VARCHAR(50) NOT NULL,
      batch_id VARCHAR(32) NOT NULL,
      stage VARCHAR(32) NOT NULL,
      error TEXT NOT NULL,
      attempts INT NOT NULL,
      at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
      KEY idx_doc_id (doc_id)
    ) DEFAULT CHARSET=utf8mb4`,
    [s.mysqlFailuresTable],
  )
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ?? (
      id BIGINT AUTO_INCREMENT PRIMARY KEY,
      mid VARCHAR(50) NOT NULL,
      content MEDIUMTEXT NOT NULL,
      created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
      KEY idx_mid (mid)
    ) DEFAULT CHARSET=utf8mb4`,
    [s.mysqlSourceTable],
  )
}

/** Errors that no retry can fix: the data itself is wrong for the table. */
const PERMANENT = new Set([
  'ER_DATA_TOO_LONG',
  'ER_TRUNCATED_WRONG_VALUE_FOR_FIELD',
  'ER_PARSE_ERROR',
  'ER_BAD_FIELD_ERROR',
])

export function sinkError(err: unknown, what: string): LrError {
  const code = (err as { code?: string }).code ?? 'unknown'
  return new LrError(ErrorCodes.sink, `${what}: ${code}: ${(err as Error).message}`, {
    cause: err,
    retryable: !PERMANENT.has(code),
  })
}
