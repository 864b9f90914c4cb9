import type { Pool } from 'mysql2/promise'
import { exactCollation } from '../adapters/mysql.js'

/** `source_data(id, mid, content, created)`: dispatch's input, created when missing (as the original scripts made it). */
export async function createSourceTable(pool: Pool, s: { mysqlSourceTable: string }): Promise<void> {
  const exact = await exactCollation(pool)
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ?? (
      id BIGINT AUTO_INCREMENT PRIMARY KEY,
      mid VARCHAR(50) CHARACTER SET utf8mb4 COLLATE ${exact} NOT NULL,
      content MEDIUMTEXT NOT NULL,
      created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
      KEY idx_mid (mid)
    ) DEFAULT CHARSET=utf8mb4`,
    [s.mysqlSourceTable],
  )
}
