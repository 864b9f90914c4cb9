import { readFileSync } from 'node:fs'
import type { EntityType } from '../core/contracts.js'
import { ConfigError } from '../core/errors.js'

/**
 * Reference data: `surface<TAB>canonical_id<TAB>type` per line (type PER, LOC,
 * ORG or MISC; `#` starts a comment). The same file feeds the dictionary pass of
 * the embedded recognizer and the mapping stage.
 */
export interface DictEntry {
  surface: string
  id: string
  type: EntityType
}

const TYPES = new Set(['PER', 'LOC', 'ORG', 'MISC'])

export function normalizeSurface(s: string): string {
  return s.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase()
}

export function loadDictionary(file: string): DictEntry[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`LR_ENTITIES=${file}: cannot read (${(err as Error).message})`)
  }
  const entries: DictEntry[] = []
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return
    const [surface, id, type] = line.split('\t').map((s) => s.trim())
    if (!surface || !id || !type || !TYPES.has(type)) {
      throw new ConfigError(`${file}:${i + 1}: expected surface<TAB>id<TAB>PER|LOC|ORG|MISC`)
    }
    entries.push({ surface, id, type: type as EntityType })
  })
  return entries
}

/** surface (normalised) -> canonical id, for the mapping stage. */
export class EntityMap {
  private readonly bySurface = new Map<string, string>()

  constructor(entries: DictEntry[]) {
    for (const e of entries) this.bySurface.set(normalizeSurface(e.surface), e.id)
  }

  lookup(surface: string): string | null {
    return this.bySurface.get(normalizeSurface(surface)) ?? null
  }
}
