import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { loadSettings, type Settings, shippedSampleDir } from '../config.js'
import { ErrorCodes, LrError } from '../errors.js'
import { Metrics } from '../http/metrics.js'
import { StatusServer } from '../http/server.js'
import { enqueueFiles } from '../ingest/enqueue.js'
import { createKafkaClient, type KafkaClient } from '../kafka/client.js'
import { Releasers } from '../lifecycle/releasers.js'
import { installSignals } from '../lifecycle/signals.js'
import { createLogger, type Logger } from '../log.js'
import { Prefetcher } from '../prefetch/prefetcher.js'
import { writeFileAtomic } from '../spool/atomic.js'
import { ensureLayout, type Layout, layoutOf } from '../spool/layout.js'
import { collectStatus, type StatusSnapshot } from '../status/collect.js'
import { WorkerPool } from '../worker/pool.js'
import type { ParsedArgs } from './args.js'

/**
 * On the first `start` without a source (no Kafka), enqueue the shipped sample
 * once, so `npm start` on a fresh clone has work to show. The state file makes
 * later runs skip it, even after its batches are done and deleted.
 */
async function seedSample(settings: Settings, layout: Layout, log: Logger): Promise<void> {
  if (settings.sample === 'off') return
  if (settings.sample === 'auto' && settings.kafkaBrokers) return
  const dir = settings.sample === 'auto' ? shippedSampleDir : path.resolve(settings.sample)
  const stateFile = path.join(layout.state, 'sample-enqueued.json')
  if (existsSync(stateFile)) {
    const prior = JSON.parse(await readFile(stateFile, 'utf8')) as { at: string }
    log.debug({ at: prior.at }, 'sample already enqueued earlier; skipping')
    return
  }
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jsonl')).map((f) => path.join(dir, f))
  const r = await enqueueFiles(files, {
    layout,
    batchSize: settings.batchSize,
    maxTextBytes: settings.maxTextBytes,
    log: log.child({ component: 'enqueue' }),
  })
  await writeFileAtomic(stateFile, `${JSON.stringify({ at: new Date().toISOString(), dir, ...r })}\n`)
  log.info(
    { dir, docs: r.docs, batches: r.batches },
    'first run: enqueued the sample (set LR_SAMPLE=off to skip)',
  )
}

export type Role = 'start' | 'work' | 'prefetch'

export async function runStart(args: ParsedArgs, opts: { role: Role }): Promise<number> {
  const settings = loadSettings(args.flags)
  const once = args.flags.once === true
  const log = createLogger()
  const useKafka = opts.role !== 'work' && settings.kafkaBrokers !== null
  if (opts.role === 'prefetch' && !useKafka) {
    throw new LrError(ErrorCodes.config, 'prefetch needs LR_KAFKA_BROKERS (host:port of the Kafka brokers)')
  }
  const releasers = new Releasers()
  const layout = layoutOf(settings.dataDir)
  await ensureLayout(layout)
  if (opts.role === 'start') await seedSample(settings, layout, log)

  let pool: WorkerPool | null = null
  let prefetcher: Prefetcher | null = null
  const stopAll = async (): Promise<void> => {
    await prefetcher?.stop()
    await pool?.stop()
  }
  const signals = installSignals({ log, onStop: stopAll, onForce: () => pool?.releaseHeldSync() ?? 0 })
  releasers.push('signals', () => signals.dispose())
  let kafka: KafkaClient | null = null
  const metrics = new Metrics({
    status: cachedStatus(layout, settings),
    gpu: () => pool?.gpuCap?.snapshot() ?? null,
    kafkaLag: async () => (kafka ? consumerLag(kafka, settings) : null),
  })
  try {
    if (settings.http) {
      const server = new StatusServer({
        listen: settings.http,
        token: settings.httpToken,
        status: cachedStatus(layout, settings),
        metrics,
        log: log.child({ component: 'http' }),
      })
      await server.start()
      releasers.push('http', () => server.stop())
    }
    let caughtUp: (() => Promise<boolean>) | null = null
    if (useKafka) {
      kafka = createKafkaClient(settings.kafkaBrokers as string[], log.child({ component: 'kafka' }))
      const k = kafka
      releasers.push('kafka', () => k.close())
      await kafka.ensureTopic(settings.kafkaTopic)
      if (once) caughtUp = await caughtUpCheck(kafka, settings)
      prefetcher = new Prefetcher(settings, layout, kafka, log.child({ component: 'prefetch' }))
      releasers.push('prefetcher', () => prefetcher?.stop())
      await prefetcher.start()
    }
    if (opts.role !== 'prefetch') {
      // With a source, the pool must not stop at an empty left/: more may be on its way.
      pool = new WorkerPool({ settings, log, untilDrained: once && !useKafka, observer: metrics })
      await pool.start()
      const p = pool
      releasers.push('pool', () => p.stop())
      const progress = startProgress(p, log)
      releasers.push('progress', () => progress.stop())
    }
    if (once && caughtUp) {
      const check = caughtUp
      const queue = pool?.queue ?? null
      await waitUntil(
        signals.stopped,
        async () => (await check()) && (queue ? await queue.isDrained() : true),
      )
    } else if (once && pool) {
      await Promise.race([pool.whenIdle(), signals.stopped])
    } else {
      await signals.stopped
    }
    await stopAll()
  } finally {
    await releasers.release()
  }
  const s = pool?.stats
  log.info(
    {
      batches: s?.batchesDone ?? 0,
      docs: (s?.docsOk ?? 0) + (s?.docsFailed ?? 0),
      failed: s?.docsFailed ?? 0,
      bad: s?.batchesBad ?? 0,
      ...(prefetcher ? { prefetched: prefetcher.stats.messages, deadMessages: prefetcher.stats.dead } : {}),
      ...(pool?.gpuCap ? { gpu: pool.gpuCap.snapshot() } : {}),
    },
    once ? 'drained: nothing pending or claimed; exiting' : 'stopped',
  )
  return 0
}

/** The data dir's status, computed at most once a second however often it is asked for. */
function cachedStatus(layout: Layout, settings: Settings): () => Promise<StatusSnapshot> {
  let last: { at: number; snap: Promise<StatusSnapshot> } | null = null
  return () => {
    if (!last || Date.now() - last.at > 1000) {
      last = {
        at: Date.now(),
        snap: collectStatus(layout, { staleMs: settings.staleMs, minFreeDisk: settings.minFreeDisk }),
      }
    }
    return last.snap
  }
}

/** Messages of the topic the group has not committed yet, over all partitions. */
async function consumerLag(kafka: KafkaClient, settings: Settings): Promise<number> {
  const [end, committed] = await Promise.all([
    kafka.endOffsets(settings.kafkaTopic),
    kafka.committedOffsets(settings.kafkaGroup, settings.kafkaTopic),
  ])
  let lag = 0n
  for (const [partition, high] of end) {
    const at = committed.get(partition) ?? -1n
    lag += at < 0n ? high : high > at ? high - at : 0n
  }
  return Number(lag)
}

/**
 * `--once` with Kafka: done when the group's committed offsets reach the end
 * offsets seen at start, on every partition.
 */
async function caughtUpCheck(kafka: KafkaClient, settings: Settings): Promise<() => Promise<boolean>> {
  const end = await kafka.endOffsets(settings.kafkaTopic)
  return async () => {
    const committed = await kafka.committedOffsets(settings.kafkaGroup, settings.kafkaTopic)
    for (const [partition, high] of end) {
      if (high > 0n && (committed.get(partition) ?? -1n) < high) return false
    }
    return true
  }
}

async function waitUntil(stopped: Promise<void>, done: () => Promise<boolean>): Promise<void> {
  let stop = false
  void stopped.then(() => {
    stop = true
  })
  while (!stop) {
    if (await done()) return
    await new Promise((r) => setTimeout(r, 500))
  }
}

/** A progress line every few seconds while there is work, and one when the backlog is empty. */
function startProgress(pool: WorkerPool, log: Logger): { stop(): void } {
  const everyMs = 5000
  let lastDocs = 0
  let lastAt = Date.now()
  let idleSaid = false
  const timer = setInterval(() => {
    const s = pool.stats
    const docs = s.docsOk + s.docsFailed
    const now = Date.now()
    const pending = pool.queue?.pendingEstimate ?? 0
    if (docs !== lastDocs || s.active > 0 || pending > 0) {
      const rate = ((docs - lastDocs) * 1000) / Math.max(1, now - lastAt)
      log.info(
        { batches: s.batchesDone, docs, docsPerSecond: Math.round(rate), pending, active: s.active },
        `progress: ${s.batchesDone} batches, ${docs} documents done; ${pending} batches waiting`,
      )
      idleSaid = false
    } else if (!idleSaid) {
      log.info({ batches: s.batchesDone, docs }, 'idle: waiting for new batches in left/ (Ctrl-C to stop)')
      idleSaid = true
    }
    lastDocs = docs
    lastAt = now
  }, everyMs)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
