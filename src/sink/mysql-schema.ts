import type { Pool, RowDataPacket } from 'mysql2/promise'
import { exactCollation } from '../adapters/mysql.js'

/**
 * Does an existing results table fit what the sink writes, and if not, what
 * makes it fit. The users' own tables come first: the original scripts made
 * `doc_ent_map(id, doc_id VARCHAR(50) indexed but not unique, ent_list_str TEXT,
 * mapped_list_str TEXT, create_time)`. One module answers both the start-up
 * check (and doctor) and `leftright migrate`, so they never disagree.
 */
export interface ColumnInfo {
  name: string
  dataType: string
  columnType: string
  nullable: boolean
  collation: string | null
}

export interface TableInfo {
  exists: boolean
  columns: Map<string, ColumnInfo>
  /** A unique index whose only column is doc_id. */
  uniqueDocId: boolean
}

const TEXTUAL = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext'])
const DOC_ID_TYPES = new Set(['char', 'varchar'])
const BYTE_EXACT = new Set(['utf8mb4_nopad_bin', 'utf8mb4_0900_bin', 'utf8mb3_nopad_bin', 'utf8_nopad_bin'])

/** What the sink writes into the results table, and how to add it to an old table (nullable or defaulted). */
const RESULT_COLUMNS: { name: string; textual: boolean; add: string }[] = [
  { name: 'ent_list_str', textual: true, add: 'MEDIUMTEXT NULL' },
  { name: 'mapped_list_str', textual: true, add: 'MEDIUMTEXT NULL' },
  { name: 'create_time', textual: false, add: 'DATETIME NULL DEFAULT CURRENT_TIMESTAMP' },
  { name: 'batch_id', textual: true, add: 'VARCHAR(32) NULL' },
  { name: 'host', textual: true, add: 'VARCHAR(255) NULL' },
]

const FAILURE_COLUMNS: { name: string; add: string }[] = [
  { name: 'batch_id', add: 'VARCHAR(32) NULL' },
  { name: 'stage', add: "VARCHAR(32) NOT NULL DEFAULT ''" },
  { name: 'error', add: 'TEXT NULL' },
  { name: 'attempts', add: 'INT NOT NULL DEFAULT 0' },
  { name: 'at', add: 'DATETIME NULL DEFAULT CURRENT_TIMESTAMP' },
]

export async function inspectTable(pool: Pool, table: string): Promise<TableInfo> {
  const [cols] = await pool.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType,
            IS_NULLABLE AS nullable, COLLATION_NAME AS collation
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`,
    [table],
  )
  const columns = new Map<string, ColumnInfo>()
  for (const c of cols) {
    columns.set(String(c.name).toLowerCase(), {
      name: String(c.name),
      dataType: String(c.dataType).toLowerCase(),
      columnType: String(c.columnType),
      nullable: c.nullable === 'YES',
      collation: c.collation === null ? null : String(c.collation),
    })
  }
  if (columns.size === 0) return { exists: false, columns, uniqueDocId: false }
  const [idx] = await pool.query<RowDataPacket[]>(
    `SELECT INDEX_NAME AS name, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols
       FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0
      GROUP BY INDEX_NAME`,
    [table],
  )
  const uniqueDocId = idx.some((r) => String(r.cols).toLowerCase() === 'doc_id')
  return { exists: true, columns, uniqueDocId }
}

/** What is wrong with an existing results table for the sink (empty: it fits). */
export function resultTableProblems(info: TableInfo): string[] {
  if (!info.exists) return []
  const problems: string[] = []
  const docId = info.columns.get('doc_id')
  if (!docId) return ['no doc_id column']
  const missing = RESULT_COLUMNS.filter((c) => !info.columns.has(c.name)).map((c) => c.name)
  if (missing.length) problems.push(`missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`)
  if (docId.collation === null || !BYTE_EXACT.has(docId.collation)) {
    problems.push(`doc_id is not compared byte for byte (collation ${docId.collation ?? docId.dataType})`)
  }
  if (!info.uniqueDocId) problems.push('no unique key on doc_id')
  return problems
}

export interface MigrationStep {
  why: string
  sql: string
}

export interface MigrationPlan {
  steps: MigrationStep[]
  /** Changes that cannot be made safely: nothing is done while there are any. */
  refusals: string[]
  /** Duplicate rows (beyond the newest of each doc_id) the plan copies aside and removes. */
  duplicates: number
}

const q = (name: string): string => `\`${name.replace(/`/g, '``')}\``

/**
 * The statements, in order, that make the results and failures tables fit:
 * create what is missing, add missing columns (nullable or defaulted, so old rows
 * stay valid), make doc_id byte-exact, copy duplicate doc_ids but the newest row
 * (highest id) to `<table>_duplicates` and remove them, add the unique key.
 * Never drops user data. Empty when everything fits.
 */
export async function planMigration(
  pool: Pool,
  s: { mysqlResultsTable: string; mysqlFailuresTable: string },
  createSql: { results: string; failures: string },
): Promise<MigrationPlan> {
  const plan: MigrationPlan = { steps: [], refusals: [], duplicates: 0 }
  const exact = await exactCollation(pool)
  const t = s.mysqlResultsTable
  const info = await inspectTable(pool, t)
  if (!info.exists) {
    plan.steps.push({ why: `${t} is missing: create it`, sql: createSql.results })
  } else {
    const docId = info.columns.get('doc_id')
    if (!docId) {
      plan.refusals.push(`${t} has no doc_id column: cannot tell which document a row is for`)
      return plan
    }
    for (const c of RESULT_COLUMNS) {
      const have = info.columns.get(c.name)
      if (!have) {
        plan.steps.push({
          why: `${t}.${c.name} is missing`,
          sql: `ALTER TABLE ${q(t)} ADD COLUMN ${q(c.name)} ${c.add}`,
        })
      } else if (c.textual && !TEXTUAL.has(have.dataType)) {
        plan.refusals.push(`${t}.${c.name} is ${have.columnType}, not text: converting it could lose data`)
      }
    }
    if (docId.collation === null || !BYTE_EXACT.has(docId.collation)) {
      if (!DOC_ID_TYPES.has(docId.dataType)) {
        plan.refusals.push(
          `${t}.doc_id is ${docId.columnType}: only CHAR/VARCHAR can be made byte-exact safely`,
        )
      } else {
        plan.steps.push({
          why: `${t}.doc_id compares with ${docId.collation}: make it byte-exact (CaseDoc, casedoc, 'casedoc ' are three documents)`,
          sql: `ALTER TABLE ${q(t)} MODIFY ${q('doc_id')} ${docId.columnType} CHARACTER SET utf8mb4 COLLATE ${exact} ${docId.nullable ? 'NULL' : 'NOT NULL'}`,
        })
      }
    }
    if (!info.uniqueDocId) {
      const [[dup]] = await pool.query<RowDataPacket[]>(
        `SELECT COALESCE(SUM(n - 1), 0) AS extra FROM
           (SELECT COUNT(*) AS n FROM ${q(t)} GROUP BY CAST(doc_id AS BINARY) HAVING COUNT(*) > 1) g`,
      )
      plan.duplicates = Number(dup?.extra ?? 0)
      if (plan.duplicates > 0) {
        if (!info.columns.has('id')) {
          plan.refusals.push(
            `${t} has ${plan.duplicates} duplicate doc_id rows and no id column to tell the newest`,
          )
        } else {
          const keep = `(SELECT doc_id, MAX(id) AS keep_id FROM ${q(t)} GROUP BY doc_id HAVING COUNT(*) > 1) d`
          plan.steps.push(
            {
              why: `${plan.duplicates} rows repeat a doc_id: keep the newest (highest id) of each, copy the others aside first`,
              sql: `CREATE TABLE IF NOT EXISTS ${q(`${t}_duplicates`)} LIKE ${q(t)}`,
            },
            {
              why: `copy the ${plan.duplicates} older rows to ${t}_duplicates`,
              sql: `INSERT INTO ${q(`${t}_duplicates`)} SELECT x.* FROM ${q(t)} x JOIN ${keep} ON x.doc_id = d.doc_id AND x.id <> d.keep_id`,
            },
            {
              why: 'remove them from the results table',
              sql: `DELETE x FROM ${q(t)} x JOIN ${keep} ON x.doc_id = d.doc_id AND x.id <> d.keep_id`,
            },
          )
        }
      }
      plan.steps.push({
        why: `${t} has no unique key on doc_id: add it (a re-sent document updates its row)`,
        sql: `ALTER TABLE ${q(t)} ADD UNIQUE KEY ${q('uk_doc_id')} (${q('doc_id')})`,
      })
    }
  }
  const f = s.mysqlFailuresTable
  const finfo = await inspectTable(pool, f)
  if (!finfo.exists) {
    plan.steps.push({ why: `${f} is missing: create it`, sql: createSql.failures })
  } else {
    if (!finfo.columns.has('doc_id')) plan.refusals.push(`${f} has no doc_id column`)
    for (const c of FAILURE_COLUMNS) {
      if (!finfo.columns.has(c.name)) {
        plan.steps.push({
          why: `${f}.${c.name} is missing`,
          sql: `ALTER TABLE ${q(f)} ADD COLUMN ${q(c.name)} ${c.add}`,
        })
      }
    }
  }
  return plan
}
