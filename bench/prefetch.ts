import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import pino from 'pino'
import { createKafkaClient } from '../src/adapters/kafka.js'
import { loadSettings } from '../src/core/config.js'
import { KafkaSource } from '../src/feed/kafka-source.js'
import { Prefetcher } from '../src/feed/prefetcher.js'
import { ensureLayout, layoutOf } from '../src/store/layout.js'
import { freshTopic, produce, startKafka } from '../test/services.js'
import { argAfter, baseRevision, buildRevision, median, quick, sampleDocs, table } from './common.js'

type PrefetchModules = {
  createKafkaClient: typeof createKafkaClient
  loadSettings: typeof loadSettings
  KafkaSource: typeof KafkaSource
  Prefetcher: typeof Prefetcher
  ensureLayout: typeof ensureLayout
  layoutOf: typeof layoutOf
}
const thisTree: PrefetchModules = {
  createKafkaClient,
  loadSettings,
  KafkaSource,
  Prefetcher,
  ensureLayout,
  layoutOf,
}

/** The same modules from another build (a `--base` revision's dist/). */
async function modulesAt(dist: string): Promise<PrefetchModules> {
  const at = (m: string) => import(pathToFileURL(path.join(dist, 'src', m)).href)
  return {
    ...(await at('adapters/kafka.js')),
    ...(await at('core/config.js')),
    ...(await at('feed/kafka-source.js')),
    ...(await at('feed/prefetcher.js')),
    ...(await at('store/layout.js')),
  } as PrefetchModules
}

/**
 * Broker -> left/: the prefetcher (decode, batch files written durably, offsets
 * committed after them) vs a bare kafkajs consumer that only counts the same
 * messages; with `--base REV`, that revision's prefetcher too. All in this process, each
 * round with fresh consumer groups, the order rotated.
 */
export async function prefetchScenario(): Promise<void> {
  // The kcat mock broker keeps about 5 MB per partition and drops older messages: stay under it.
  const n = quick ? 20_000 : 60_000
  const rounds = quick ? 1 : 5
  const stops: (() => void)[] = []
  const log = pino({ level: 'warn' })
  // --dir DIR: the data dirs there (bench/RESULTS.md, tenth session: where a create costs what).
  const work = mkdtempSync(path.join(argAfter('--dir') ?? tmpdir(), 'lr-bench-prefetch-'))
  const baseRev = process.argv.includes('--base') ? baseRevision('HEAD') : null
  const base = baseRev ? buildRevision(baseRev, work) : null
  const contenders: Record<string, PrefetchModules | 'bare'> = {
    'leftright prefetch': thisTree,
    ...(base
      ? { [`prefetch at ${baseRev}`]: await modulesAt(path.join(path.dirname(base.bin), '..', 'dist')) }
      : {}),
    'bare kafkajs consume': 'bare',
  }
  const rate: Record<string, { msgs: number[]; mb: number[]; join: number[]; after: number[] }> = {}
  for (const name of Object.keys(contenders)) rate[name] = { msgs: [], mb: [], join: [], after: [] }
  try {
    const broker = await startKafka({ after: (fn) => stops.push(fn) })
    const topic = freshTopic('bench')
    const values = sampleDocs(n).map((d) => JSON.stringify(d))
    const bytes = values.reduce((sum, v) => sum + Buffer.byteLength(v), 0)
    const client = createKafkaClient([broker], log, 'leftright-bench')
    await produce(client, topic, values)
    await client.close()
    await assertNothingDropped(broker, topic)
    const names = Object.keys(contenders)
    for (let round = 0; round < rounds; round++) {
      // Rotate who goes first so drift in the machine spreads over all.
      const order = names.map((_, i) => names[(i + round) % names.length] as string)
      for (const who of order) {
        const m = contenders[who] as PrefetchModules | 'bare'
        const t =
          m === 'bare'
            ? await bare(broker, topic, n)
            : await ours(m, broker, topic, n, path.join(work, `r${round}-${names.indexOf(who)}`), log)
        const row = rate[who] as (typeof rate)[string]
        row.msgs.push(n / t.seconds)
        row.mb.push(bytes / 1024 ** 2 / t.seconds)
        row.join.push(t.firstMessage)
        row.after.push(n / (t.seconds - t.firstMessage))
      }
    }
    console.log(
      `prefetch: ${n} messages (${(bytes / 1024 ** 2).toFixed(1)} MB of JSON), 4 partitions, kcat mock broker, batch 100, data dirs under ${path.dirname(work)}, ${cpus().length} cores, ${rounds} round(s)`,
    )
    const bareRate = median(rate['bare kafkajs consume']?.msgs ?? [1])
    const bareAfter = median(rate['bare kafkajs consume']?.after ?? [1])
    console.log(
      table(
        [
          'contender',
          'messages/s',
          'MB/s',
          'vs bare',
          'first message (s)',
          'messages/s after it',
          'vs bare after it',
        ],
        Object.entries(rate).map(([name, r]) => [
          name,
          median(r.msgs).toFixed(0),
          median(r.mb).toFixed(1),
          `${(median(r.msgs) / bareRate).toFixed(2)}x`,
          median(r.join).toFixed(2),
          median(r.after).toFixed(0),
          `${(median(r.after) / bareAfter).toFixed(2)}x`,
        ]),
      ),
    )
    console.log(
      '(messages/s: from consumer start to the last message handled (written, synced and committed for leftright; counted for bare), group join included for both; "after it": from the first message delivered, the join left out)',
    )
  } finally {
    for (const fn of stops) fn()
    base?.remove()
    rmSync(work, { recursive: true, force: true })
  }
}

async function ours(
  m: PrefetchModules,
  broker: string,
  topic: string,
  n: number,
  dataDir: string,
  log: pino.Logger,
): Promise<{ seconds: number; firstMessage: number }> {
  const settings = m.loadSettings(
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
  const layout = m.layoutOf(dataDir)
  await m.ensureLayout(layout)
  const kafka = m.createKafkaClient([broker], log, 'leftright-bench')
  const source = new m.KafkaSource(kafka, {
    topic: settings.kafkaTopic,
    group: settings.kafkaGroup,
    maxWaitMs: settings.kafkaMaxWaitMs,
    sessionTimeoutMs: settings.kafkaSessionTimeoutMs,
  })
  // The first delivery's time: the source's start, wrapped (works for a --base build's source too).
  let first = 0
  const start = source.start.bind(source)
  source.start = (onDelivery) =>
    start((d) => {
      first ||= performance.now()
      return onDelivery(d)
    })
  const prefetcher = new m.Prefetcher(settings, layout, source, log)
  const started = performance.now()
  await prefetcher.start()
  while (prefetcher.stats.messages < n) await new Promise((r) => setTimeout(r, 5))
  const seconds = (performance.now() - started) / 1000
  await prefetcher.stop()
  await kafka.close()
  return { seconds, firstMessage: (first - started) / 1000 }
}

async function bare(
  broker: string,
  topic: string,
  n: number,
): Promise<{ seconds: number; firstMessage: number }> {
  const kafka = new Kafka({ clientId: 'bench-bare', brokers: [broker], logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId: freshTopic('g'), maxWaitTimeInMs: 500 })
  const started = performance.now()
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let seen = 0
  let bytes = 0
  let first = 0
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        first ||= performance.now()
        for (const m of batch.messages) bytes += m.value?.length ?? 0
        seen += batch.messages.length
        if (seen >= n) resolve()
      },
    })
  })
  const seconds = (performance.now() - started) / 1000
  await consumer.disconnect()
  return { seconds: bytes > 0 ? seconds : Number.NaN, firstMessage: (first - started) / 1000 }
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
