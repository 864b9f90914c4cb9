import type { Pool } from 'mysql2/promise'

/** `source_data(id, mid, content, created)`: dispatch's input, created when missing (as the original scripts made it). */
export async function createSourceTable(pool: Pool, s: { mysqlSourceTable: string }): Promise<void> {
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
