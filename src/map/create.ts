import type { Settings } from '../core/config.js'
import type { Mapper } from '../core/contracts.js'
import type { Logger } from '../core/log.js'

/** LR_MAPPING=service: the entity service's own mapping alone; nothing is looked up. */
class ServiceOnlyMapper implements Mapper {
  readonly kind = 'service'
  async init(): Promise<void> {}
  async lookupMany(): Promise<Map<string, string | null>> {
    return new Map()
  }
  async close(): Promise<void> {}
}

/** The MySQL client is loaded only when the mapping comes from MySQL. */
export async function createMapper(settings: Settings, log: Logger): Promise<Mapper> {
  if (settings.mapping === 'service') return new ServiceOnlyMapper()
  const useMysql = settings.mapping === 'mysql' || (settings.mapping === 'auto' && settings.mysqlUrl !== null)
  if (!useMysql) return new (await import('./tsv-mapper.js')).TsvMapper(settings.entitiesPath)
  const { MysqlMapper } = await import('./mysql-mapper.js')
  return new MysqlMapper({
    url: settings.mysqlUrl as string,
    table: settings.mysqlDictTable,
    cacheEntries: settings.mapCacheEntries,
    seedFile: settings.entitiesPath,
    log,
  })
}
