import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { startMockGpu } from '../scripts/mock-gpu.js'
import { createKafkaClient } from '../src/adapters/kafka.js'
import { encodeBatch } from '../src/store/batch-file.js'
import { ensureLayout, layoutOf, leftFile, newBatchId } from '../src/store/layout.js'
import { ClaimQueue } from '../src/work/claim-queue.js'
import { freshTopic, produce, startKafka } from '../test/services.js'
import { cli, median, quick, runTimed, sampleDocs, table, writeSampleJsonl } from './common.js'

/**
 * Scenario 3: the same job at growing sizes (no-op recognizer, file sink, so the
 * pool's own costs show): time per document and peak RSS of `start --once`;
 * then claim latency with 1k and 100k batches pending.
 */
export async function scalingScenario(): Promise<void> {
  const sizes = quick ? [10_000, 50_000] : [10_000, 100_000, 1_000_000]
  const rows: (string | number)[][] = []
  let first: { usPerDoc: number; rss: number } | null = null
  for (const n of sizes) {
    const work = mkdtempSync(path.join(tmpdir(), 'lr-bench-scale-'))
    try {
      const input = writeSampleJsonl(work, n)
      const dataDir = path.join(work, 'data')
      const enq = await runTimed(cli, ['enqueue', input, '--data-dir', dataDir], {})
      rmSync(input)
      const run = await runTimed(cli, ['start', '--once', '--data-dir', dataDir, '--recognizer', 'none'], {})
      const usPerDoc = (run.seconds * 1e6) / n
      first ??= { usPerDoc, rss: run.maxRssKb }
      rows.push([
        n.toLocaleString('en'),
        ((enq.seconds * 1e6) / n).toFixed(1),
        usPerDoc.toFixed(1),
        `${(usPerDoc / first.usPerDoc).toFixed(2)}x`,
        (run.maxRssKb / 1024).toFixed(0),
        `${(run.maxRssKb / first.rss).toFixed(2)}x`,
      ])
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
  }
  console.log(`scaling: no-op recognizer, file sink, batch 100, 4 workers; ${cpus().length} cores`)
  console.log(
    table(
      ['documents', 'enqueue µs/doc', 'start --once µs/doc', 'vs smallest', 'peak RSS (MB)', 'vs smallest'],
      rows,
    ),
  )

  const claimRows: (string | number)[][] = []
  for (const pending of quick ? [1000, 10_000] : [1000, 100_000]) {
    const dir = mkdtempSync(path.join(tmpdir(), 'lr-bench-claim-'))
    try {
      const layout = layoutOf(dir)
      await ensureLayout(layout)
      const bytes = encodeBatch('x'.repeat(22), sampleDocs(1))
      for (let i = 0; i < pending; i++) writeFileSync(leftFile(layout, newBatchId()), bytes)
      const queue = new ClaimQueue({
        layout,
        log: pino({ level: 'silent' }),
        rescanMs: 3_600_000,
        watch: false,
      })
      const t0 = performance.now()
      await queue.start()
      const startMs = performance.now() - t0
      const each: number[] = []
      for (let i = 0; i < 200; i++) {
        const t = performance.now()
        await queue.claimOne('w0')
        each.push(performance.now() - t)
      }
      await queue.stop()
      claimRows.push([pending.toLocaleString('en'), startMs.toFixed(0), (median(each) * 1000).toFixed(0)])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  console.log(table(['batches pending', 'queue start (scan) ms', 'claim, median µs'], claimRows))
  console.log('(`status` latency at 1k/10k/100k batches: see the status scenario.)')
}

/**
 * Scenario 4: two boxes on one machine. Each box is a `start --once` process with
 * its own data dir and its own mock GPU service (capacity 4, 20 ms per call +
 * 1 ms per document); both are in one Kafka consumer group on a 4-partition topic.
 */
export async function twoBoxesScenario(): Promise<void> {
  const n = quick ? 2000 : 20_000
  const stops: (() => void)[] = []
  const broker = await startKafka({ after: (fn) => stops.push(fn) })
  const gpus = [
    await startMockGpu({ capacity: 4, callMs: 20, docMs: 1, over: 'reset' }),
    await startMockGpu({ capacity: 4, callMs: 20, docMs: 1, over: 'reset' }),
  ]
  const kafka = createKafkaClient([broker], pino({ level: 'silent' }), 'bench-two')
  const work = mkdtempSync(path.join(tmpdir(), 'lr-bench-two-'))
  const rows: (string | number)[][] = []
  try {
    const values = sampleDocs(n).map((d) => JSON.stringify(d))
    let one = 0
    for (const boxes of [1, 2]) {
      const topic = freshTopic('two')
      await produce(kafka, topic, values)
      const t0 = performance.now()
      const runs = Array.from({ length: boxes }, (_, i) =>
        runTimed(cli, ['start', '--once', '--data-dir', path.join(work, `${topic}-${i}`)], {
          LR_KAFKA_BROKERS: broker,
          LR_KAFKA_TOPIC: topic,
          LR_KAFKA_GROUP: `g-${topic}`,
          LR_NER_URL: (gpus[i] as { url: string }).url,
          LR_GPU_CONCURRENCY: '4',
        }),
      )
      await Promise.all(runs)
      const seconds = (performance.now() - t0) / 1000
      const rate = n / seconds
      if (boxes === 1) one = rate
      rows.push([boxes, rate.toFixed(0), `${(rate / one).toFixed(2)}x`])
    }
  } finally {
    await kafka.close()
    for (const g of gpus) await g.close()
    for (const stop of stops) stop()
    rmSync(work, { recursive: true, force: true })
  }
  console.log(
    `two-boxes: ${n} documents from one Kafka topic (kcat mock broker), each box with its own mock GPU (capacity 4, 20 ms/call + 1 ms/doc), file sink; ${cpus().length} cores`,
  )
  console.log(table(['boxes', 'docs/s', 'vs one box'], rows))
}
