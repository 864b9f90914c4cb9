import { open, unlink } from 'node:fs/promises'
import path from 'node:path'
import pino from 'pino'
import { connectAmqp } from '../adapters/amqp.js'
import { connectClickhouse } from '../adapters/clickhouse.js'
import { loadDictionary } from '../adapters/entities-tsv.js'
import { createKafkaClient } from '../adapters/kafka.js'
import { createMysqlPool } from '../adapters/mysql.js'
import { createRedisStreams } from '../adapters/redis.js'
import { type Settings, sinkOf } from '../core/config.js'
import { describeError } from '../core/errors.js'
import { createRecognizer } from '../recognize/create.js'
import { inspectTable, resultTableProblems } from '../sink/mysql-schema.js'
import { diskState } from '../store/disk.js'
import { ensureLayout, layoutOf } from '../store/layout.js'

export type CheckResult =
  | { ok: true; detail: string }
  | { ok: false; detail: string; fix: string }
  | { ok: 'skip'; detail: string }

export interface Check {
  name: string
  run(): Promise<CheckResult>
}

const pass = (detail: string): CheckResult => ({ ok: true, detail })
const fail = (detail: string, fix: string): CheckResult => ({ ok: false, detail, fix })
const skip = (detail: string): CheckResult => ({ ok: 'skip', detail })

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms / 1000}s`)), ms)
    }),
  ])
}

const silent = pino({ level: 'silent' })

/** The checks `leftright doctor` runs, in order; each says what to do about a failure. */
export function doctorChecks(s: Settings): Check[] {
  const layout = layoutOf(s.dataDir)
  return [
    {
      name: 'data dir',
      async run() {
        try {
          await ensureLayout(layout)
          for (const dir of [layout.left, layout.right, layout.state]) {
            const probe = path.join(dir, `.doctor-${process.pid}`)
            const h = await open(probe, 'wx')
            await h.close()
            await unlink(probe)
          }
          return pass(`${layout.root}: left/, right/ and state/ writable`)
        } catch (err) {
          return fail(
            `${layout.root}: ${describeError(err)}`,
            'check LR_DATA_DIR and that this user owns it (chown -R, or pick another folder)',
          )
        }
      },
    },
    {
      name: 'free disk',
      async run() {
        try {
          const d = await diskState(layout.root, s.minFreeDisk)
          const free = `${(d.freeBytes / 1024 ** 3).toFixed(1)} GB free of ${(d.totalBytes / 1024 ** 3).toFixed(1)} GB`
          return d.low
            ? fail(
                `${free}: under LR_MIN_FREE_DISK, prefetch would pause`,
                'free space, or lower LR_MIN_FREE_DISK',
              )
            : pass(free)
        } catch (err) {
          return fail(describeError(err), 'check LR_DATA_DIR')
        }
      },
    },
    {
      name: 'reference data',
      async run() {
        try {
          return pass(`${s.entitiesPath}: ${loadDictionary(s.entitiesPath).length} entries`)
        } catch (err) {
          return fail(describeError(err), 'point LR_ENTITIES at a readable surface<TAB>id<TAB>type file')
        }
      },
    },
    {
      name: 'kafka',
      async run() {
        if (!s.kafkaBrokers) return skip('LR_KAFKA_BROKERS unset: no Kafka')
        const kafka = createKafkaClient(s.kafkaBrokers, silent, 'leftright-doctor', {
          retries: 1,
          connectionTimeoutMs: 3000,
        })
        try {
          const d = await withTimeout(kafka.describe(s.kafkaTopic, s.kafkaGroup), 15_000, 'kafka')
          if (!d.topicExists) {
            return fail(
              `connected to ${s.kafkaBrokers.join(',')}, but topic "${s.kafkaTopic}" does not exist`,
              'create the topic, or set LR_KAFKA_TOPIC to an existing one (dispatch creates it when the broker allows)',
            )
          }
          return pass(
            `${s.kafkaBrokers.join(',')}: topic "${s.kafkaTopic}" has ${d.partitions} partitions; group "${s.kafkaGroup}" is ${d.groupState}`,
          )
        } catch (err) {
          return fail(
            `${s.kafkaBrokers.join(',')}: ${describeError(err)}`,
            'check LR_KAFKA_BROKERS (host:port of a broker this box can reach) and that the broker runs',
          )
        } finally {
          // A port that accepts connections but is not Kafka can hold a disconnect forever.
          await withTimeout(kafka.close(), 3000, 'kafka close').catch(() => {})
        }
      },
    },
    {
      name: 'redis',
      async run() {
        if (!s.redisUrl) return skip('LR_REDIS_URL unset: no Redis stream')
        const redis = createRedisStreams(s.redisUrl, { connectTimeoutMs: 5000 })
        try {
          const [length, group] = await withTimeout(
            Promise.all([redis.length(s.redisStream), redis.groupInfo(s.redisStream, s.redisGroup)]),
            8000,
            'redis',
          )
          return pass(
            `${s.redisUrl}: stream "${s.redisStream}" holds ${length} entries; group "${s.redisGroup}": ${group.lag ?? '?'} unread, ${group.pending} pending`,
          )
        } catch (err) {
          return fail(
            `${s.redisUrl}: ${describeError(err)}`,
            'check LR_REDIS_URL (redis://host:port[/db]) and that Redis runs',
          )
        } finally {
          await redis.close().catch(() => {})
        }
      },
    },
    {
      name: 'rabbitmq',
      async run() {
        if (!s.amqpUrl) return skip('LR_AMQP_URL unset: no RabbitMQ queue')
        const where = s.amqpUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')
        let conn: Awaited<ReturnType<typeof connectAmqp>> | null = null
        try {
          conn = await withTimeout(connectAmqp(s.amqpUrl), 8000, 'rabbitmq')
          const depth = await withTimeout(conn.depth(s.amqpQueue), 5000, 'rabbitmq').catch(() => null)
          return depth === null
            ? pass(`${where}: connected; queue "${s.amqpQueue}" will be created (durable) on start`)
            : pass(`${where}: connected; queue "${s.amqpQueue}" holds ${depth} ready messages`)
        } catch (err) {
          return fail(
            `${where}: ${describeError(err)}`,
            'check LR_AMQP_URL (amqp://user:password@host:port[/vhost]) and that RabbitMQ runs',
          )
        } finally {
          await conn?.close().catch(() => {})
        }
      },
    },
    {
      name: 'clickhouse',
      async run() {
        if (!s.clickhouseUrl) return skip('LR_CLICKHOUSE_URL unset: no ClickHouse')
        try {
          const ch = await withTimeout(
            connectClickhouse(s.clickhouseUrl, { timeoutMs: 8000 }),
            10_000,
            'clickhouse',
          )
          try {
            const [v] = await ch.rows<{ v: string }>('SELECT version() AS v')
            const used = sinkOf(s) === 'clickhouse' ? 'results go here' : `not the sink (LR_SINK=${s.sink})`
            return pass(`${s.clickhouseUrl}: ClickHouse ${v?.v ?? '?'}, database ${ch.database}; ${used}`)
          } finally {
            await ch.close()
          }
        } catch (err) {
          return fail(
            `${s.clickhouseUrl}: ${describeError(err)}`,
            'check LR_CLICKHOUSE_URL (http://host:8123/DATABASE) and that ClickHouse runs',
          )
        }
      },
    },
    {
      name: 'mysql',
      async run() {
        if (!s.mysqlUrl) return skip('LR_MYSQL_URL unset: results go to files')
        const pool = createMysqlPool(s.mysqlUrl, 1)
        const where = s.mysqlUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')
        try {
          await withTimeout(pool.query('SELECT 1'), 8000, 'mysql')
          const tables = [s.mysqlResultsTable, s.mysqlFailuresTable, s.mysqlSourceTable]
          const missing: string[] = []
          for (const t of tables) {
            const [rows] = await pool.query('SHOW TABLES LIKE ?', [t])
            if ((rows as unknown[]).length === 0) missing.push(t)
          }
          const [grants] = await pool.query('SHOW GRANTS FOR CURRENT_USER()')
          const text = (grants as Record<string, string>[]).map((g) => Object.values(g)[0]).join('\n')
          const can = (p: string) => /ALL PRIVILEGES/i.test(text) || new RegExp(`\\b${p}\\b`, 'i').test(text)
          const lacking = ['SELECT', 'INSERT', 'UPDATE', 'CREATE'].filter((p) => !can(p))
          if (lacking.length > 0) {
            return fail(
              `${where}: connected, but the user lacks ${lacking.join(', ')}`,
              `GRANT ${lacking.join(', ')} ON <database>.* TO <user>`,
            )
          }
          // The same check as the sink's at start: a table that does not fit stops the workers.
          const problems = resultTableProblems(await inspectTable(pool, s.mysqlResultsTable))
          if (problems.length > 0) {
            return fail(
              `${where}: table ${s.mysqlResultsTable} does not fit: ${problems.join('; ')}`,
              'run `leftright migrate` to see the SQL that fixes it, then `leftright migrate --apply`',
            )
          }
          return pass(
            `${where}: connected; ${missing.length ? `tables ${missing.join(', ')} will be created on start` : 'tables fit'}; result format ${s.resultFormat}`,
          )
        } catch (err) {
          return fail(
            `${where}: ${describeError(err)}`,
            'check LR_MYSQL_URL (mysql://user:password@host:port/database), that MySQL runs and the database exists',
          )
        } finally {
          await pool.end().catch(() => {})
        }
      },
    },
    {
      name: 'entity service',
      async run() {
        if (!s.nerUrl) return skip(`LR_NER_URL unset: the embedded recognizer (${s.recognizer})`)
        const recognizer = await createRecognizer(
          { ...s, nerAttempts: 1, nerTimeoutMs: Math.min(s.nerTimeoutMs, 10_000) },
          null,
        )
        const t0 = performance.now()
        try {
          const out = await recognizer.recognize(
            [{ doc_id: 'doctor-1', text: 'Jack Ma founded Alibaba in Hangzhou.' }],
            AbortSignal.timeout(15_000),
          )
          const ms = Math.round(performance.now() - t0)
          return pass(`${s.nerUrl}: one call, ${out[0]?.entities.length ?? 0} entities, ${ms} ms`)
        } catch (err) {
          return fail(
            `${s.nerUrl}: ${describeError(err)}`,
            'check LR_NER_URL and LR_NER_FORMAT (leftright or hf), and that the service is up',
          )
        } finally {
          await recognizer.close()
        }
      },
    },
  ]
}
