import type { Settings } from '../config.js'
import type { Logger } from '../log.js'
import type { Layout } from '../spool/layout.js'
import { FileSink } from './file-sink.js'
import { MysqlSink } from './mysql-sink.js'
import type { Sink } from './types.js'

export function createSink(settings: Settings, layout: Layout, log: Logger): Sink {
  return settings.mysqlUrl ? new MysqlSink(settings, log) : new FileSink(layout)
}
