/**
 * The same job on BullMQ (Redis): what a Node team would build with the standard
 * job queue. One process, like one leftright box: a producer that reads the
 * source and adds one job per 100 documents, and a Worker with concurrency =
 * the GPU service's capacity. Each job runs the same recognizer client
 * (HttpRecognizer, 16 documents per call, calls of a job one after another so
 * the calls in flight never exceed the concurrency), the same TSV mapping and
 * the same MySQL sink (multi-row INSERT ... ON DUPLICATE KEY UPDATE in one
 * transaction). A failed job is retried by BullMQ (6 attempts, exponential
 * backoff from 200 ms); a job that runs out of attempts is counted as lost.
 *
 * Config as JSON in BENCH_BULLMQ; prints one JSON line: {docsOk, docsLost}.
 */
import { readFileSync } from 'node:fs'
import { type Job, Queue, Worker } from 'bullmq'
import { Redis as IORedis } from 'ioredis'
import pino from 'pino'
import { normalizeSurface } from '../../src/adapters/entities-tsv.js'
import { createKafkaClient } from '../../src/adapters/kafka.js'
import { loadSettings } from '../../src/core/config.js'
import type { DocResult, Recognized } from '../../src/core/contracts.js'
import { TsvMapper } from '../../src/map/tsv-mapper.js'
import { HttpRecognizer } from '../../src/recognize/http-recognizer.js'
import { MysqlSink } from '../../src/sink/mysql-sink.js'

interface Config {
  source: { kind: 'kafka'; brokers: string; topic: string; count: number } | { kind: 'file'; path: string }
  queue: string
  concurrency: number
  mysqlUrl: string
  /** null: no recognition (the sink-bound scenario). */
  nerUrl: string | null
}

type Doc = { doc_id: string; text: string }
const BATCH = 100
const DOCS_PER_CALL = 16
const ATTEMPTS = 6

const cfg = JSON.parse(process.env.BENCH_BULLMQ ?? '{}') as Config
// BullMQ 6 under ESM takes constructed ioredis clients; one each for the queue and the worker.
const redis = () => new IORedis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null })
const silent = pino({ level: 'silent' })
const settings = loadSettings(
  {},
  { LR_MYSQL_URL: cfg.mysqlUrl, LR_WORKERS: String(cfg.concurrency), LR_SAMPLE: 'off' },
)
// One multi-row upsert per job, as a BullMQ user would write it: no group commit.
const sink = new MysqlSink(settings, silent, { groupCommit: false })
await sink.init()
const mapper = new TsvMapper(settings.entitiesPath)
const recognizer = cfg.nerUrl
  ? new HttpRecognizer({
      url: cfg.nerUrl,
      format: 'leftright',
      timeoutMs: 30_000,
      connections: cfg.concurrency,
    })
  : null

const queue = new Queue<{ docs: Doc[] }>(cfg.queue, { connection: redis() })
await queue.obliterate({ force: true }).catch(() => {})

async function processJob(job: Job<{ docs: Doc[] }>): Promise<number> {
  const docs = job.data.docs
  const recognized: Recognized[] = []
  if (recognizer) {
    for (let i = 0; i < docs.length; i += DOCS_PER_CALL) {
      recognized.push(
        ...(await recognizer.recognize(docs.slice(i, i + DOCS_PER_CALL), AbortSignal.timeout(60_000))),
      )
    }
  } else {
    for (const d of docs) recognized.push({ doc_id: d.doc_id, entities: [] })
  }
  const surfaces = new Set(recognized.flatMap((r) => r.entities.map((e) => e.text)))
  const ids = await mapper.lookupMany(surfaces)
  const results: DocResult[] = recognized.map((r) => ({
    doc_id: r.doc_id,
    batch_id: String(job.id),
    entities: r.entities,
    mapped: r.entities.map((e) => ({
      text: e.text,
      type: e.type,
      id: ids.get(normalizeSurface(e.text)) ?? null,
    })),
  }))
  await sink.write(String(job.id), results)
  return results.length
}

let docsOk = 0
let docsLost = 0
let jobsAdded = 0
let jobsFinished = 0
let producing = true
/** A promise and its resolve (Promise.withResolvers is not in Node 20). */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {}
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

const finished = deferred()
const checkDone = () => {
  if (!producing && jobsFinished === jobsAdded) finished.resolve()
}

const worker = new Worker<{ docs: Doc[] }, number>(cfg.queue, processJob, {
  connection: redis(),
  concurrency: cfg.concurrency,
})
worker.on('completed', (_job, n) => {
  docsOk += n
  jobsFinished++
  checkDone()
})
worker.on('failed', (job) => {
  if (job && job.attemptsMade >= ATTEMPTS) {
    docsLost += job.data.docs.length
    jobsFinished++
    checkDone()
  }
})

const add = async (docs: Doc[]) => {
  jobsAdded++
  await queue.add(
    'batch',
    { docs },
    {
      attempts: ATTEMPTS,
      backoff: { type: 'exponential', delay: 200 },
      removeOnComplete: true,
      removeOnFail: true,
    },
  )
}

if (cfg.source.kind === 'file') {
  const docs = readFileSync(cfg.source.path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Doc)
  for (let i = 0; i < docs.length; i += BATCH) await add(docs.slice(i, i + BATCH))
} else {
  const src = cfg.source
  const kafka = createKafkaClient([src.brokers], silent, 'bench-bullmq')
  const consumer = await kafka.consumer(`bench-bullmq-${process.pid}`, src.topic, { maxWaitMs: 200 })
  let seen = 0
  let pending: Doc[] = []
  const all = deferred()
  void consumer.run(async (ctx) => {
    for (const m of ctx.messages) {
      pending.push(JSON.parse(String(m.value)) as Doc)
      seen++
      if (pending.length >= BATCH || seen >= src.count) {
        // Taken before the await: partitions are handled concurrently and push meanwhile.
        const docs = pending
        pending = []
        await add(docs)
      }
    }
    const last = ctx.messages[ctx.messages.length - 1]?.offset ?? '0'
    await ctx.commit(last)
    if (seen >= src.count) all.resolve()
  })
  await all.promise
  await consumer.stop()
  await kafka.close()
}
producing = false
checkDone()
await finished.promise
await worker.close()
await queue.obliterate({ force: true }).catch(() => {})
await queue.close()
await recognizer?.close()
await sink.close()
process.stdout.write(`${JSON.stringify({ docsOk, docsLost })}\n`)
// Redis clients handed to BullMQ stay open after close(); the work is done, so leave.
process.exit(0)
