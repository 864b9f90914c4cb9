import { docOf, envOf, flagOf, settingKeys, shownDefault } from './settings.js'

export const TABLE_BEGIN =
  '<!-- settings:begin (generated from src/core/settings.ts: npm run settings-table) -->'
export const TABLE_END = '<!-- settings:end -->'

/** The README's settings table, one row per setting, generated from the definitions. */
export function settingsTable(): string {
  const rows = settingKeys.map(
    (k) => `| \`${envOf(k)}\` | \`--${flagOf(k)}\` | ${shownDefault(k)} | ${docOf(k)} |`,
  )
  return ['| env | flag | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n')
}
