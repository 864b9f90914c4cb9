import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { RowDataPacket } from 'mysql2/promise'
import { createMysqlPool } from '../../src/adapters/mysql.js'
import { freshDatabase } from '../services.js'

test("the adapter's pool sends a statement without values as it is, and formats one with values as mysql2 does", async (t) => {
  const db = await freshDatabase(t, 'adapter')
  const pool = createMysqlPool(db.url, 2)
  t.after(() => pool.end())
  // A '?' outside quotes with no values: left alone (no value to put there).
  const [bare] = await pool.query<RowDataPacket[]>("SELECT '?' AS q, 1 AS one")
  assert.deepEqual(bare[0], { q: '?', one: 1 })
  const tricky = "it's a \\ back\\slash, a ? and\n a line"
  const [formatted] = await pool.query<RowDataPacket[]>('SELECT ? AS s, ? AS n, ? AS nothing, ? AS list', [
    tricky,
    42,
    null,
    [1, 2],
  ])
  // An array is a list (`1, 2`): the column `1`, then `2 AS list`.
  assert.deepEqual(formatted[0], { s: tricky, n: 42, nothing: null, 1: 1, list: 2 })
  // An object value (not an array) is one value, as in mysql2's default format.
  const [one] = await pool.query<RowDataPacket[]>('SELECT ? AS s', 'single')
  assert.deepEqual(one[0], { s: 'single' })
})
