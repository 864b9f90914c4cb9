import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import path from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import pino from 'pino'
import { createKafkaClient } from '../src/adapters/kafka.js'
import { loadSettings } from '../src/core/config.js'
import { KafkaSource } from '../src/feed/kafka-source.js'
import { Prefetcher } from '../src/feed/prefetcher.js'
import { ensureLayout, layoutOf } from '../src/store/layout.js'
import { freshTopic, produce, startKafka } from '../test/services.js'
import { median, quick, sampleDocs, table } from './common.js'

/**
 * Broker -> left/: the prefetcher (decode, batch files written durably, offsets
 * committed per batch) vs a bare kafkajs consumer that only counts the same
 * messages. Both in this process, each round with fresh consumer groups.
 */
export async function prefetchScenario(): Promise<void> {
  // The kcat mock broker keeps about 5 MB per partition and drops older messages: stay under it.
  const n = quick ? 20_000 : 60_000
  const rounds = quick ? 1 : 3
  const stops: (() => void)[] = []
  const log = pino({ level: 'warn' })
  const work = mkdtempSync(path.join(tmpdir(), 'lr-bench-prefetch-'))
  const rate: Record<string, { msgs: number[]; mb: number[] }> = {
    'leftright prefetch': { msgs: [], mb: [] },
    'bare kafkajs consume': { msgs: [], mb: [] },
  }
  try {
    const broker = await startKafka({ after: (fn) => stops.push(fn) })
    const topic = freshTopic('bench')
    const values = sampleDocs(n).map((d) => JSON.stringify(d))
    const bytes = values.reduce((sum, v) => sum + Buffer.byteLength(v), 0)
    const client = createKafkaClient([broker], log, 'leftright-bench')
    await produce(client, topic, values)
    await client.close()
    await assertNothingDropped(broker, topic)
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ['ours', 'bare'] : ['bare', 'ours']
      for (const who of order) {
        const seconds =
          who === 'ours'
            ? await ours(broker, topic, n, path.join(work, `r${round}`), log)
            : await bare(broker, topic, n)
        const row = rate[who === 'ours' ? 'leftright prefetch' : 'bare kafkajs consume'] as {
          msgs: number[]
          mb: number[]
        }
        row.msgs.push(n / seconds)
        row.mb.push(bytes / 1024 ** 2 / seconds)
      }
    }
    console.log(
      `prefetch: ${n} messages (${(bytes / 1024 ** 2).toFixed(1)} MB of JSON), 4 partitions, kcat mock broker, batch 100, ${cpus().length} cores, ${rounds} round(s)`,
    )
    const base = median(rate['bare kafkajs consume']?.msgs ?? [1])
    console.log(
      table(
        ['contender', 'messages/s', 'MB/s', 'vs bare'],
        Object.entries(rate).map(([name, r]) => [
          name,
          median(r.msgs).toFixed(0),
          median(r.mb).toFixed(1),
          `${(median(r.msgs) / base).toFixed(2)}x`,
        ]),
      ),
    )
    console.log('(from consumer start to the last message handled: group join included for both)')
  } finally {
    for (const fn of stops) fn()
    rmSync(work, { recursive: true, force: true })
  }
}

async function ours(
  broker: string,
  topic: string,
  n: number,
  dataDir: string,
  log: pino.Logger,
): Promise<number> {
  const settings = loadSettings(
    {},
    {
      LR_DATA_DIR: dataDir,
      LR_KAFKA_BROKERS: broker,
      LR_KAFKA_TOPIC: topic,
      LR_KAFKA_GROUP: freshTopic('g'),
      LR_PREFETCH_MAX_PENDING: '100000',
      LR_MIN_FREE_DISK: '0',
    },
  )
  const layout = layoutOf(dataDir)
  await ensureLayout(layout)
  const kafka = createKafkaClient([broker], log, 'leftright-bench')
  const prefetcher = new Prefetcher(
    settings,
    layout,
    new KafkaSource(kafka, {
      topic: settings.kafkaTopic,
      group: settings.kafkaGroup,
      maxWaitMs: settings.kafkaMaxWaitMs,
      sessionTimeoutMs: settings.kafkaSessionTimeoutMs,
    }),
    log,
  )
  const started = performance.now()
  await prefetcher.start()
  while (prefetcher.stats.messages < n) await new Promise((r) => setTimeout(r, 5))
  const seconds = (performance.now() - started) / 1000
  await prefetcher.stop()
  await kafka.close()
  return seconds
}

async function bare(broker: string, topic: string, n: number): Promise<number> {
  const kafka = new Kafka({ clientId: 'bench-bare', brokers: [broker], logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId: freshTopic('g'), maxWaitTimeInMs: 500 })
  const started = performance.now()
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let seen = 0
  let bytes = 0
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) bytes += m.value?.length ?? 0
        seen += batch.messages.length
        if (seen >= n) resolve()
      },
    })
  })
  const seconds = (performance.now() - started) / 1000
  await consumer.disconnect()
  return bytes > 0 ? seconds : Number.NaN
}

async function assertNothingDropped(broker: string, topic: string): Promise<void> {
  const admin = new Kafka({ clientId: 'bench-admin', brokers: [broker], logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  const offsets = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  const dropped = offsets.filter((o) => o.low !== '0')
  if (dropped.length > 0) {
    throw new Error(
      `the broker dropped old messages (low offsets ${dropped.map((o) => o.low).join(', ')}): use fewer`,
    )
  }
}
