import { SingleBar } from 'cli-progress'
import { connectClickhouse } from '../adapters/clickhouse.js'
import { createKafkaClient } from '../adapters/kafka.js'
import { createMysqlPool } from '../adapters/mysql.js'
import { createRedisStreams } from '../adapters/redis.js'
import { loadSettings } from '../core/config.js'
import { ConfigError } from '../core/errors.js'
import { createLogger } from '../core/log.js'
import { Releasers } from '../core/releasers.js'
import { clickhouseRows } from '../feed/clickhouse-rows.js'
import { DiskRoom } from '../feed/disk-room.js'
import { type DispatchTarget, dispatch, leftTarget, mysqlRows, type SourceRows } from '../feed/dispatch.js'
import { redisTarget } from '../feed/redis-target.js'
import { createSourceTable } from '../feed/source-table.js'
import { ClickhouseSink } from '../sink/clickhouse-sink.js'
import { createResultTables } from '../sink/mysql-tables.js'
import { ensureLayout, layoutOf } from '../store/layout.js'
import type { ParsedArgs } from './args.js'

export async function runDispatch(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  const from = String(args.flags.from ?? 'mysql')
  if (from !== 'mysql' && from !== 'clickhouse')
    throw new ConfigError(`--from ${from}: expected mysql or clickhouse`)
  if (from === 'mysql' && !settings.mysqlUrl) {
    throw new ConfigError('dispatch needs LR_MYSQL_URL (the source_data database), or --from clickhouse')
  }
  if (from === 'clickhouse' && !settings.clickhouseUrl) {
    throw new ConfigError('dispatch --from clickhouse needs LR_CLICKHOUSE_URL (http://host:8123/DATABASE)')
  }
  const to =
    args.flags['to-left'] === true ? 'left' : String(args.flags.to ?? (settings.redisUrl ? 'redis' : 'kafka'))
  if (!['left', 'kafka', 'redis'].includes(to)) {
    throw new ConfigError(`--to ${to}: expected kafka, redis or left`)
  }
  if (to === 'kafka' && !settings.kafkaBrokers) {
    throw new ConfigError('dispatch needs LR_KAFKA_BROKERS, --to redis with LR_REDIS_URL, or --to-left')
  }
  if (to === 'redis' && !settings.redisUrl) throw new ConfigError('dispatch --to redis needs LR_REDIS_URL')
  const log = createLogger(settings).child({ component: 'dispatch' })
  const layout = layoutOf(settings.dataDir)
  await ensureLayout(layout)
  const releasers = new Releasers()
  const stop = new AbortController()
  const onSignal = (): void => stop.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    let rows: SourceRows
    if (from === 'clickhouse') {
      // The results table must exist for the anti-join: the sink creates it as it would at start.
      const sink = new ClickhouseSink(settings, log)
      await sink.init()
      await sink.close()
      const ch = await connectClickhouse(settings.clickhouseUrl as string)
      releasers.push('clickhouse', () => ch.close())
      rows = clickhouseRows(ch, { source: settings.mysqlSourceTable, results: settings.mysqlResultsTable })
    } else {
      const pool = createMysqlPool(settings.mysqlUrl as string, 2)
      releasers.push('mysql', () => pool.end())
      await createResultTables(pool, settings)
      await createSourceTable(pool, settings)
      rows = mysqlRows(pool, settings)
    }
    let target: DispatchTarget
    if (to === 'left') {
      target = leftTarget(
        layout,
        settings.batchSize,
        new DiskRoom('dispatch', layout.root, settings.minFreeDisk, log, stop.signal),
      )
    } else if (to === 'redis') {
      const redis = createRedisStreams(settings.redisUrl as string)
      releasers.push('redis', () => redis.close())
      target = redisTarget(redis, {
        stream: settings.redisStream,
        group: settings.redisGroup,
        maxLen: settings.redisMaxlen,
        signal: stop.signal,
        log,
      })
    } else {
      const kafka = createKafkaClient(settings.kafkaBrokers as string[], log.child({ component: 'kafka' }))
      releasers.push('kafka', () => kafka.close())
      const producer = await kafka.producer()
      releasers.push('producer', () => producer.close())
      const topic = settings.kafkaTopic
      target = {
        name: `kafka:${topic}`,
        send: (docs) =>
          producer.send(
            topic,
            docs.map((d) => JSON.stringify(d)),
          ),
      }
    }
    const bar = process.stdout.isTTY
      ? new SingleBar({
          format: 'dispatch [{bar}] {value}/{total} rows | {rate} rows/s | ETA {eta_formatted}',
        })
      : null
    let lastLogAt = 0
    const startedAt = Date.now()
    const result = await dispatch({
      rows,
      settings,
      layout,
      target,
      log,
      signal: stop.signal,
      onProgress: (p) => {
        const rate = Math.round((p.sent * 1000) / Math.max(1, Date.now() - startedAt))
        if (bar) {
          if (bar.getTotal() !== p.total) bar.start(p.total, p.sent, { rate })
          bar.update(p.sent, { rate })
        } else if (Date.now() - lastLogAt > 2000) {
          lastLogAt = Date.now()
          log.info(
            { sent: p.sent, total: p.total, lastId: p.lastId, rowsPerSecond: rate },
            'dispatch progress',
          )
        }
      },
    })
    bar?.stop()
    log.info(
      {
        sent: result.sent,
        skipped: result.skipped,
        total: result.total,
        lastId: result.lastId,
        pages: result.pages,
      },
      stop.signal.aborted ? 'dispatch interrupted; rerun to continue' : 'dispatch finished',
    )
    return 0
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await releasers.release()
  }
}
