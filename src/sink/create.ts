import { type Settings, sinkOf } from '../core/config.js'
import type { Sink } from '../core/contracts.js'
import type { Logger } from '../core/log.js'
import type { Layout } from '../store/layout.js'

/**
 * LR_SINK: `auto` picks ClickHouse when its URL is set, then MySQL, then files. Only the
 * chosen sink's client library is loaded.
 */
export async function createSink(settings: Settings, layout: Layout, log: Logger): Promise<Sink> {
  const kind = sinkOf(settings)
  if (kind === 'clickhouse') return new (await import('./clickhouse-sink.js')).ClickhouseSink(settings, log)
  if (kind === 'mysql') return new (await import('./mysql-sink.js')).MysqlSink(settings, log)
  return new (await import('./file-sink.js')).FileSink(layout)
}
