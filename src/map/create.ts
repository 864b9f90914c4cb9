import type { Settings } from '../core/config.js'
import type { Mapper } from '../core/contracts.js'
import type { Logger } from '../core/log.js'
import { MysqlMapper } from './mysql-mapper.js'
import { TsvMapper } from './tsv-mapper.js'

/** LR_MAPPING=service: the entity service's own mapping alone; nothing is looked up. */
class ServiceOnlyMapper implements Mapper {
  readonly kind = 'service'
  async init(): Promise<void> {}
  async lookupMany(): Promise<Map<string, string | null>> {
    return new Map()
  }
  async close(): Promise<void> {}
}

export function createMapper(settings: Settings, log: Logger): Mapper {
  if (settings.mapping === 'service') return new ServiceOnlyMapper()
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
