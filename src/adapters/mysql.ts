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
    queryFormat: statementAsIs,
  })
}

/**
 * mysql2 looks for placeholders in every statement, values or not: a scan of its whole text in JS.
 * The sink's statements are made whole (escaped rows: 8 KB a batch of 100 documents without
 * entities, more with them), so that scan took ~4% of `start --once`'s main thread
 * (bench/RESULTS.md, tenth session). A statement without values goes as it is (the scan would
 * find nothing to replace); one with values is formatted as mysql2 does by default.
 */
function statementAsIs(sql: string, values: unknown, timezone?: string): string {
  if (values === undefined || values === null || (Array.isArray(values) && values.length === 0)) return sql
  return mysql.format(sql, values as Parameters<typeof mysql.format>[1], false, timezone)
}

/**
 * Errors that a wait can fix: the server or the network is away, busy or read-only for a
 * while. Anything else (unknown column or table, access denied, data too long, bad syntax)
 * is permanent: retrying it would loop forever.
 */
const TRANSIENT = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  'ER_OPTION_PREVENTS_STATEMENT',
  'ER_READ_ONLY_MODE',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_QUERY_INTERRUPTED',
  'ER_NET_READ_ERROR',
  'ER_NET_READ_INTERRUPTED',
  'ER_NET_WRITE_INTERRUPTED',
  'ER_NET_ERROR_ON_WRITE',
  'ER_GET_TEMPORARY_ERRMSG',
  'ER_CLIENT_INTERACTION_TIMEOUT',
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
    retryable: TRANSIENT.has(driverCode),
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
