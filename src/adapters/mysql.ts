import mysql, { type Pool } from 'mysql2/promise'
import { errnoCode } from '../core/errors.js'

/** The MySQL adapter shared by the sink, the mapper, dispatch and doctor: one pool, error classification. */
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

/** Errors that no retry can fix: the data itself is wrong for the table. */
const PERMANENT = new Set([
  'ER_DATA_TOO_LONG',
  'ER_TRUNCATED_WRONG_VALUE_FOR_FIELD',
  'ER_PARSE_ERROR',
  'ER_BAD_FIELD_ERROR',
])

/** What a mysql2 error means for a caller: its code, a message naming `what` failed, and whether a retry can help. */
export function mysqlFailure(
  err: unknown,
  what: string,
): { message: string; driverCode: string; retryable: boolean; cause: unknown } {
  const driverCode = errnoCode(err) ?? 'unknown'
  const text = err instanceof Error ? err.message : String(err)
  return {
    message: `${what}: ${driverCode}: ${text}`,
    driverCode,
    retryable: !PERMANENT.has(driverCode),
    cause: err,
  }
}

const exactCollations = new WeakMap<Pool, Promise<string>>()

/**
 * The collation that compares doc_ids byte for byte, trailing spaces included:
 * MariaDB's `utf8mb4_nopad_bin`, MySQL 8's `utf8mb4_0900_bin`. (`utf8mb4_bin`
 * is PAD SPACE: it takes `pad` and `pad ` for one value.) Asked once per pool.
 */
export function exactCollation(pool: Pool): Promise<string> {
  let found = exactCollations.get(pool)
  if (!found) {
    found = pool
      .query("SHOW COLLATION WHERE Collation IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')")
      .then(([rows]) => {
        const names = (rows as { Collation: string }[]).map((r) => r.Collation)
        return names.includes('utf8mb4_nopad_bin') ? 'utf8mb4_nopad_bin' : (names[0] ?? 'utf8mb4_bin')
      })
    found.catch(() => exactCollations.delete(pool))
    exactCollations.set(pool, found)
  }
  return found
}
