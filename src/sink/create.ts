import type { Settings } from '../core/config.js'
import type { Sink } from '../core/contracts.js'
import type { Logger } from '../core/log.js'
import type { Layout } from '../store/layout.js'
import { FileSink } from './file-sink.js'
import { MysqlSink } from './mysql-sink.js'

export function createSink(settings: Settings, layout: Layout, log: Logger): Sink {
  return settings.mysqlUrl ? new MysqlSink(settings, log) : new FileSink(layout)
}
