import type { Settings } from '../config.js'
import type { Logger } from '../log.js'
import { EntityMap, loadDictionary, normalizeSurface } from './dictionary.js'
import { MysqlMapper } from './mysql-mapper.js'

/**
 * The mapping stage's reference data: surface form -> canonical id. One call
 * per batch with every surface the batch recognised; unknown surfaces map to null.
 */
export interface Mapper {
  readonly kind: 'tsv' | 'mysql'
  init(): Promise<void>
  /** Keys of the result are the normalised surfaces (see normalizeSurface). */
  lookupMany(surfaces: Iterable<string>): Promise<Map<string, string | null>>
  close(): Promise<void>
}

/** The local TSV (LR_ENTITIES), held in memory whole. */
export class TsvMapper implements Mapper {
  readonly kind = 'tsv'
  private readonly map: EntityMap

  constructor(file: string) {
    this.map = new EntityMap(loadDictionary(file))
  }

  async init(): Promise<void> {}

  async lookupMany(surfaces: Iterable<string>): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>()
    for (const s of surfaces) out.set(normalizeSurface(s), this.map.lookup(s))
    return out
  }

  async close(): Promise<void> {}
}

export function createMapper(settings: Settings, log: Logger): Mapper {
  const useMysql = settings.mapping === 'mysql' || (settings.mapping === 'auto' && settings.mysqlUrl !== null)
  if (!useMysql) return new TsvMapper(settings.entitiesPath)
  return new MysqlMapper({
    url: settings.mysqlUrl as string,
    table: settings.mysqlDictTable,
    cacheEntries: settings.mapCacheEntries,
    seedFile: settings.entitiesPath,
    log,
  })
}
