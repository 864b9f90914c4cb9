import type { Pool } from 'mysql2/promise'
import { loadDictionary, normalizeSurface } from '../adapters/entities-tsv.js'
import { createMysqlPool, mysqlFailure } from '../adapters/mysql.js'
import type { Mapper } from '../core/contracts.js'
import { MappingError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { BoundedCache } from './bounded-cache.js'

const mappingError = (err: unknown, what: string): MappingError => {
  const f = mysqlFailure(err, what)
  return new MappingError(f.message, f)
}

/** Surfaces per SELECT ... IN (...): a batch of 100 documents rarely has more distinct ones. */
const SURFACES_PER_QUERY = 5000
const SEED_ROWS_PER_STATEMENT = 1000

export interface MysqlMapperOptions {
  url: string
  table: string
  /** Surfaces (found or not) remembered between batches. */
  cacheEntries: number
  /** When the table is missing it is created and filled from this TSV. */
  seedFile: string
  log: Logger
}

/**
 * Mapping from a MySQL table `entity_dict(surface, canonical_id, type)`, where
 * `surface` is stored normalised (NFKC, trimmed, single spaces, lower case).
 * One SELECT per batch for the surfaces not in the bounded cache; unknown
 * surfaces are cached too (as null), so a batch of known names costs no query.
 */
export class MysqlMapper implements Mapper {
  readonly kind = 'mysql'
  readonly stats = { queries: 0, surfacesAsked: 0, cacheHits: 0 }
  private readonly pool: Pool
  private readonly cache: BoundedCache<string, string | null>

  constructor(private readonly opts: MysqlMapperOptions) {
    this.pool = createMysqlPool(opts.url, 2)
    this.cache = new BoundedCache(opts.cacheEntries)
  }

  get cacheSize(): number {
    return this.cache.size
  }

  async init(): Promise<void> {
    try {
      const [existing] = await this.pool.query('SHOW TABLES LIKE ?', [this.opts.table])
      if ((existing as unknown[]).length > 0) return
      await this.pool.query(
        `CREATE TABLE IF NOT EXISTS ?? (
          surface VARCHAR(255) NOT NULL,
          canonical_id VARCHAR(64) NOT NULL,
          type VARCHAR(8) NOT NULL DEFAULT 'MISC',
          PRIMARY KEY (surface)
        ) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
        [this.opts.table],
      )
      const seed = loadDictionary(this.opts.seedFile).map((e) => [
        normalizeSurface(e.surface).slice(0, 255),
        e.id,
        e.type,
      ])
      for (let i = 0; i < seed.length; i += SEED_ROWS_PER_STATEMENT) {
        await this.pool.query('INSERT IGNORE INTO ?? (surface, canonical_id, type) VALUES ?', [
          this.opts.table,
          seed.slice(i, i + SEED_ROWS_PER_STATEMENT),
        ])
      }
      this.opts.log.info(
        { table: this.opts.table, rows: seed.length, from: this.opts.seedFile },
        'entity dictionary table created and seeded',
      )
    } catch (err) {
      throw mappingError(err, `preparing the ${this.opts.table} table`)
    }
  }

  async lookupMany(surfaces: Iterable<string>): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>()
    const missing: string[] = []
    for (const raw of surfaces) {
      const key = normalizeSurface(raw)
      if (out.has(key)) continue
      this.stats.surfacesAsked++
      if (this.cache.has(key)) {
        this.stats.cacheHits++
        out.set(key, this.cache.get(key) ?? null)
      } else {
        out.set(key, null)
        if (key.length <= 255) missing.push(key)
      }
    }
    for (let i = 0; i < missing.length; i += SURFACES_PER_QUERY) {
      const part = missing.slice(i, i + SURFACES_PER_QUERY)
      let rows: { surface: string; canonical_id: string }[]
      try {
        this.stats.queries++
        const [r] = await this.pool.query('SELECT surface, canonical_id FROM ?? WHERE surface IN (?)', [
          this.opts.table,
          part,
        ])
        rows = r as { surface: string; canonical_id: string }[]
      } catch (err) {
        throw mappingError(err, `mapping lookup in ${this.opts.table}`)
      }
      const found = new Map(rows.map((r) => [r.surface, r.canonical_id]))
      for (const key of part) {
        const id = found.get(key) ?? null
        out.set(key, id)
        this.cache.set(key, id)
      }
    }
    return out
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {})
  }
}
