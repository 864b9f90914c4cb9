import type { DocResult } from '../core/contracts.js'

/**
 * `json`: arrays of objects (entities with type and offsets; mapped with ids).
 * `list`: the original scripts' form: surfaces joined by ',', mapped ids joined by ','.
 */
export function encodeLists(r: DocResult, format: 'json' | 'list'): [string, string] {
  if (format === 'list')
    return [r.entities.map((e) => e.text).join(','), r.mapped.map((m) => m.id ?? '').join(',')]
  return [
    JSON.stringify(r.entities.map((e) => ({ text: e.text, type: e.type, start: e.start, end: e.end }))),
    JSON.stringify(r.mapped),
  ]
}
