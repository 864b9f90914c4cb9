/**
 * The only module that knows the ClickHouse client library (@clickhouse/client).
 * `LR_CLICKHOUSE_URL` is `http://host:8123/DATABASE`: the server and the database.
 */
import { createClient } from '@clickhouse/client'
import { errnoCode } from '../core/errors.js'

export interface Clickhouse {
  readonly database: string
  /** A statement without a result (DDL). */
  command(sql: string): Promise<void>
  /** Rows of a SELECT, as objects (64-bit integers come back as strings). */
  rows<T>(sql: string): Promise<T[]>
  /** One INSERT of all the rows (JSONEachRow). */
  insert(table: string, rows: Record<string, unknown>[]): Promise<void>
  close(): Promise<void>
}

export function parseClickhouseUrl(url: string): { server: string; database: string } {
  const u = new URL(url)
  const database = u.pathname.replace(/^\/+|\/+$/g, '') || 'default'
  u.pathname = ''
  return { server: u.toString().replace(/\/$/, ''), database }
}

/** Creates the database if it is missing, then a client bound to it. */
export async function connectClickhouse(url: string, opts: { timeoutMs?: number } = {}): Promise<Clickhouse> {
  const { server, database } = parseClickhouseUrl(url)
  const requestTimeout = opts.timeoutMs ?? 30_000
  const admin = createClient({ url: server, request_timeout: requestTimeout })
  try {
    await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${ident(database)}` })
  } finally {
    await admin.close()
  }
  const client = createClient({ url: server, database, request_timeout: requestTimeout })
  return {
    database,
    async command(sql) {
      await client.command({ query: sql })
    },
    async rows<T>(sql: string) {
      const r = await client.query({ query: sql, format: 'JSONEachRow' })
      return (await r.json()) as T[]
    },
    async insert(table, rows) {
      if (rows.length > 0) await client.insert({ table, values: rows, format: 'JSONEachRow' })
    },
    close: () => client.close(),
  }
}

/** A plain identifier, back-quoted (names come from settings that accept only letters, digits and _). */
export function ident(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a plain ClickHouse identifier: ${name}`)
  return `\`${name}\``
}

/** Server error types that a wait can fix; any network error can too. */
const TRANSIENT_TYPES = new Set([
  'TOO_MANY_SIMULTANEOUS_QUERIES',
  'TIMEOUT_EXCEEDED',
  'MEMORY_LIMIT_EXCEEDED',
  'TOO_MANY_PARTS',
  'NETWORK_ERROR',
  'SOCKET_TIMEOUT',
  'ALL_CONNECTION_TRIES_FAILED',
  'TABLE_IS_READ_ONLY',
  'NOT_ENOUGH_SPACE',
])

/** What a ClickHouse failure means for a caller: a code and whether a retry can help. */
export function clickhouseFailure(
  err: unknown,
  what: string,
): { message: string; driverCode: string; retryable: boolean; cause: unknown } {
  const type = (err as { type?: unknown } | null)?.type
  const driverCode = typeof type === 'string' ? type : (errnoCode(err) ?? 'unknown')
  const text = err instanceof Error ? err.message : String(err)
  // No server answer at all (refused, reset, timed out): the server is away, not the data wrong.
  // A bug (a TypeError, no errno) is neither: retrying it would loop forever.
  const network =
    typeof type !== 'string' && (errnoCode(err) !== undefined || /timeout|socket hang up/i.test(text))
  return {
    message: `${what}: ${driverCode}: ${text.split('\n')[0]}`,
    driverCode,
    retryable: network || TRANSIENT_TYPES.has(driverCode),
    cause: err,
  }
}
