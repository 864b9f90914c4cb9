import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import path from 'node:path'
import { createClient } from '@clickhouse/client'
import amqp from 'amqplib'
import { Redis } from 'ioredis'
import pino from 'pino'
import { connectAmqp } from '../src/adapters/amqp.js'
import { createRedisStreams } from '../src/adapters/redis.js'
import { loadSettings } from '../src/core/config.js'
import { AmqpSource } from '../src/feed/amqp-source.js'
import { Prefetcher } from '../src/feed/prefetcher.js'
import { RedisSource } from '../src/feed/redis-source.js'
import type { Source } from '../src/feed/source.js'
import { ensureLayout, layoutOf } from '../src/store/layout.js'
import { AMQP_URL, CLICKHOUSE_HTTP, freshTopic, REDIS_URL } from '../test/services.js'
import { benchDatabase, median, quick, runCli, sampleDocs, table, writeSampleJsonl } from './common.js'

/**
 * `npm run bench -- sources`: messages/s from Redis Streams and RabbitMQ into left/ (the
 * prefetcher: decode, batch files written durably, acks per file) vs a bare client that
 * reads and acknowledges the same entries and does nothing else; then the ClickHouse sink
 * vs the MySQL sink on the same job (`start --once`, no recognition). Contenders
 * alternate over rounds; medians.
 */
export async function sourcesScenario(): Promise<void> {
  const n = quick ? 5_000 : 30_000
  const rounds = quick ? 1 : 3
  const values = sampleDocs(n).map((d) => JSON.stringify(d))
  const log = pino({ level: 'warn' })
  const work = mkdtempSync(path.join(tmpdir(), 'lr-bench-sources-'))
  const rate: Record<string, number[]> = {}
  const push = (k: string, v: number): void => {
    rate[k] = [...(rate[k] ?? []), v]
  }
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ['ours', 'bare'] : ['bare', 'ours']
      for (const who of order) {
        const dir = path.join(work, `${who}-${round}`)
        push(
          `redis|${who}`,
          n / (who === 'ours' ? await redisOurs(values, dir, log) : await redisBare(values)),
        )
        push(`amqp|${who}`, n / (who === 'ours' ? await amqpOurs(values, dir, log) : await amqpBare(values)))
      }
    }
    console.log(
      `sources: ${n} documents per source, batch 100, ${cpus().length} cores, ${rounds} round(s) alternated`,
    )
    console.log(
      table(
        ['source', 'leftright prefetch msgs/s', 'bare client msgs/s', 'leftright / bare'],
        ['redis', 'amqp'].map((s) => {
          const ours = median(rate[`${s}|ours`] ?? [0])
          const bare = median(rate[`${s}|bare`] ?? [1])
          return [s, ours.toFixed(0), bare.toFixed(0), `${(ours / bare).toFixed(2)}x`]
        }),
      ),
    )
    console.log(
      '(from start to the last entry acknowledged; the stream or queue is filled before the clock starts)',
    )
    await sinks(quick ? 10_000 : 50_000, rounds, work)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

async function fillStream(values: string[]): Promise<{ stream: string; redis: Redis }> {
  const redis = new Redis(REDIS_URL)
  const stream = freshTopic('bench-stream')
  for (let i = 0; i < values.length; i += 1000) {
    const p = redis.pipeline()
    for (const v of values.slice(i, i + 1000)) {
      const d = JSON.parse(v) as { doc_id: string; text: string }
      p.xadd(stream, '*', 'doc_id', d.doc_id, 'text', d.text)
    }
    await p.exec()
  }
  return { stream, redis }
}

async function runPrefetch(source: Source, dataDir: string, n: number, log: pino.Logger): Promise<number> {
  const settings = loadSettings(
    {},
    { LR_DATA_DIR: dataDir, LR_PREFETCH_MAX_PENDING: '100000', LR_MIN_FREE_DISK: '0' },
  )
  const layout = layoutOf(dataDir)
  await ensureLayout(layout)
  const prefetcher = new Prefetcher(settings, layout, source, log)
  const started = performance.now()
  await prefetcher.start()
  while (prefetcher.stats.messages < n) await new Promise((r) => setTimeout(r, 2))
  const seconds = (performance.now() - started) / 1000
  await prefetcher.stop()
  return seconds
}

async function redisOurs(values: string[], dataDir: string, log: pino.Logger): Promise<number> {
  const { stream, redis } = await fillStream(values)
  const streams = createRedisStreams(REDIS_URL)
  try {
    const source = new RedisSource(streams, {
      stream,
      group: 'bench',
      batchSize: 100,
      claimIdleMs: 60_000,
      log,
    })
    return await runPrefetch(source, dataDir, values.length, log)
  } finally {
    await streams.close()
    await redis.del(stream)
    redis.disconnect()
  }
}

/** A bare ioredis consumer: XREADGROUP 100 at a time, XACK them, count. */
async function redisBare(values: string[]): Promise<number> {
  const { stream, redis } = await fillStream(values)
  try {
    const started = performance.now()
    await redis.xgroup('CREATE', stream, 'bare', '0')
    let seen = 0
    while (seen < values.length) {
      const r = (await redis.xreadgroup('GROUP', 'bare', 'c', 'COUNT', 100, 'STREAMS', stream, '>')) as
        | [string, [string, string[]][]][]
        | null
      const entries = r?.[0]?.[1] ?? []
      for (const [, fields] of entries) JSON.stringify(fields)
      if (entries.length > 0) await redis.xack(stream, 'bare', ...entries.map(([id]) => id))
      seen += entries.length
    }
    return (performance.now() - started) / 1000
  } finally {
    await redis.del(stream)
    redis.disconnect()
  }
}

async function fillQueue(values: string[]): Promise<string> {
  const conn = await amqp.connect(AMQP_URL)
  const ch = await conn.createConfirmChannel()
  const queue = freshTopic('bench-queue')
  await ch.assertQueue(queue, { durable: true })
  for (const v of values) ch.sendToQueue(queue, Buffer.from(v), { persistent: true })
  await ch.waitForConfirms()
  await conn.close()
  return queue
}

async function dropQueue(queue: string): Promise<void> {
  const conn = await amqp.connect(AMQP_URL)
  const ch = await conn.createChannel()
  await ch.deleteQueue(queue)
  await conn.close()
}

async function amqpOurs(values: string[], dataDir: string, log: pino.Logger): Promise<number> {
  const queue = await fillQueue(values)
  try {
    const source = new AmqpSource(() => connectAmqp(AMQP_URL), { queue, batchSize: 100, log })
    return await runPrefetch(source, dataDir, values.length, log)
  } finally {
    await dropQueue(queue)
  }
}

/** A bare amqplib consumer: prefetch 200, ack each message, count. */
async function amqpBare(values: string[]): Promise<number> {
  const queue = await fillQueue(values)
  const conn = await amqp.connect(AMQP_URL)
  try {
    const started = performance.now()
    const ch = await conn.createChannel()
    await ch.prefetch(200)
    let seen = 0
    await new Promise<void>((resolve) => {
      void ch.consume(queue, (m) => {
        if (!m) return
        JSON.parse(m.content.toString('utf8'))
        ch.ack(m)
        if (++seen === values.length) resolve()
      })
    })
    return (performance.now() - started) / 1000
  } finally {
    await conn.close()
    await dropQueue(queue)
  }
}

/** The same job (`start --once`, no recognition) into ClickHouse and into MySQL. */
async function sinks(n: number, rounds: number, work: string): Promise<void> {
  const input = writeSampleJsonl(work, n)
  const rows: Record<string, number[]> = { clickhouse: [], mysql: [] }
  const ch = createClient({ url: CLICKHOUSE_HTTP })
  for (let round = 0; round < rounds; round++) {
    for (const who of round % 2 === 0 ? ['clickhouse', 'mysql'] : ['mysql', 'clickhouse']) {
      const dataDir = path.join(work, `sink-${who}-${round}`)
      runCli(['enqueue', input, '--data-dir', dataDir])
      if (who === 'mysql') {
        const db = await benchDatabase('sinks')
        try {
          const s = runCli(['start', '--once', '--data-dir', dataDir, '--recognizer', 'none'], {
            LR_MYSQL_URL: db.url,
          })
          rows.mysql?.push(n / s)
        } finally {
          await db.drop()
        }
      } else {
        const name = `lr_bench_${freshTopic('ch').replace('-', '_')}`
        try {
          const s = runCli(['start', '--once', '--data-dir', dataDir, '--recognizer', 'none'], {
            LR_CLICKHOUSE_URL: `${CLICKHOUSE_HTTP}/${name}`,
          })
          rows.clickhouse?.push(n / s)
        } finally {
          await ch.command({ query: `DROP DATABASE IF EXISTS ${name}` })
        }
      }
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
  await ch.close()
  const mysql = median(rows.mysql ?? [1])
  console.log(`\nsinks: ${n} documents, no recognition, 4 workers, batch 100, ${rounds} round(s) alternated`)
  console.log(
    table(
      ['sink', 'docs/s (whole `start --once`)', 'vs MySQL'],
      Object.entries(rows).map(([k, v]) => [k, median(v).toFixed(0), `${(median(v) / mysql).toFixed(2)}x`]),
    ),
  )
}
