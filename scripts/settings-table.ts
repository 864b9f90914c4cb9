/** Rewrites the settings table in README.md from src/core/settings.ts (`npm run settings-table`). */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { settingsTable, TABLE_BEGIN, TABLE_END } from '../src/core/settings-table.js'

const readme = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'README.md')
const text = readFileSync(readme, 'utf8')
const start = text.indexOf(TABLE_BEGIN)
const end = text.indexOf(TABLE_END)
if (start < 0 || end < start) throw new Error(`README.md lacks the ${TABLE_BEGIN} ... ${TABLE_END} markers`)
writeFileSync(readme, `${text.slice(0, start + TABLE_BEGIN.length)}\n${settingsTable()}\n${text.slice(end)}`)
console.log('README.md settings table rewritten')
