import { createMysqlPool, exactCollation } from '../adapters/mysql.js'
import { loadSettings } from '../core/config.js'
import { ConfigError } from '../core/errors.js'
import { planMigration } from '../sink/mysql-schema.js'
import { resultTablesSql } from '../sink/mysql-tables.js'
import type { ParsedArgs } from './args.js'

/**
 * `leftright migrate [--apply]`: prints, in order, the SQL that makes the existing
 * tables fit (see sink/mysql-schema.ts); with --apply, runs it. A second run finds
 * nothing to change and says so. Never drops user data; refuses (exit 1) where a
 * change cannot be made safely.
 */
export async function runMigrate(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  if (!settings.mysqlUrl)
    throw new ConfigError('migrate needs LR_MYSQL_URL (the database holding the tables)')
  const apply = args.flags.apply === true
  const out = (line: string) => process.stdout.write(`${line}\n`)
  const pool = createMysqlPool(settings.mysqlUrl, 1)
  try {
    const plan = await planMigration(pool, settings, resultTablesSql(settings, await exactCollation(pool)))
    if (plan.refusals.length > 0) {
      for (const r of plan.refusals) out(`refused: ${r}`)
      out('nothing was changed')
      return 1
    }
    if (plan.steps.length === 0) {
      out(`nothing to change: ${settings.mysqlResultsTable} and ${settings.mysqlFailuresTable} fit`)
      return 0
    }
    for (const [i, step] of plan.steps.entries()) {
      out(`-- ${i + 1}. ${step.why}`)
      out(`${step.sql.replace(/\s+/g, ' ').trim()};`)
      if (apply) await pool.query(step.sql)
    }
    if (apply) {
      out(
        `applied ${plan.steps.length} statements` +
          (plan.duplicates
            ? `; ${plan.duplicates} duplicate rows kept in ${settings.mysqlResultsTable}_duplicates`
            : ''),
      )
    } else {
      out(
        `${plan.steps.length} statements; nothing was changed (run \`leftright migrate --apply\` to apply them)`,
      )
    }
    return 0
  } finally {
    await pool.end()
  }
}
