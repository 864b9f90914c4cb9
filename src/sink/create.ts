import { type Settings, sinkOf } from '../core/config.js'
import type { Sink } from '../core/contracts.js'
import type { Logger } from '../core/log.js'
import type { Layout } from '../store/layout.js'
import { ClickhouseSink } from './clickhouse-sink.js'
import { FileSink } from './file-sink.js'
import { MysqlSink } from './mysql-sink.js'

/** LR_SINK: `auto` picks ClickHouse when its URL is set, then MySQL, then files. */
export function createSink(settings: Settings, layout: Layout, log: Logger): Sink {
  const kind = sinkOf(settings)
  if (kind === 'clickhouse') return new ClickhouseSink(settings, log)
  if (kind === 'mysql') return new MysqlSink(settings, log)
  return new FileSink(layout)
}
