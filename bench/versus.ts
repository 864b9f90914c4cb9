import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import path from 'node:path'
import type { RowDataPacket } from 'mysql2/promise'
import pino from 'pino'
import { startGpuProcess } from '../scripts/mock-gpu-process.js'
import { createKafkaClient } from '../src/adapters/kafka.js'
import { freshTopic, produce, startKafka } from '../test/services.js'
import {
  argAfter,
  baseRevision,
  buildRevision,
  cli,
  createCostUs,
  enqueueBesideStart,
  enqueueThenStart,
  median,
  quick,
  root,
  rotated,
  runTimed,
  sampleDocs,
  startWithFile,
  table,
  withTables,
  writeSampleJsonl,
} from './common.js'
import { loadData, sameRows } from './sink.js'

const CAPACITY = 4
const CALL_MS = 20
const DOC_MS = 1

interface Outcome {
  name: string
  seconds: number
  docsOk: number
  docsLost: number
  maxRssKb: number
  gpu?: { calls: number; rejected: number; busyMs: number; activeMs: number }
}

/** A contender's outcome against the mock GPU: documents stored, lost (neither stored nor a recorded failure), the service's stats. */
async function gpuOutcome(
  pool: import('mysql2/promise').Pool,
  n: number,
  name: string,
  r: Omit<Outcome, 'name' | 'gpu' | 'docsOk' | 'docsLost'>,
  s: { calls: number; rejected: number; busyMs: number; activeMs: number },
): Promise<Outcome> {
  const [[row]] = await pool.query<RowDataPacket[]>('SELECT COUNT(DISTINCT doc_id) AS n FROM doc_ent_map')
  const [[dead]] = await pool.query<RowDataPacket[]>('SELECT COUNT(DISTINCT doc_id) AS n FROM doc_failures')
  const docsOk = Number(row?.n)
  return {
    ...r,
    name,
    docsOk,
    // leftright records failures; the others drop them.
    docsLost: n - docsOk - Number(dead?.n ?? 0),
    gpu: { calls: s.calls, rejected: s.rejected, busyMs: s.busyMs, activeMs: s.activeMs },
  }
}

/** Table cells shared by the GPU-bound scenarios. */
const rate = (r: Outcome): number => r.docsOk / r.seconds
const versus = (r: Outcome, base: Outcome): string => `${(rate(r) / rate(base)).toFixed(2)}x`
/** The service's busy time over its capacity, in the window it had calls. */
const busyInWindow = (r: Outcome): string =>
  `${((100 * (r.gpu?.busyMs ?? 0)) / (CAPACITY * Math.max(1, r.gpu?.activeMs ?? 0))).toFixed(1)}%`

const baseline = (name: string) => path.join(root, 'dist', 'bench', 'baselines', `${name}.js`)
const lastJson = (out: string) => JSON.parse(out.trim().split('\n').pop() as string) as Record<string, number>

/**
 * Scenario 1, GPU-bound: documents from Kafka, through the mock GPU service
 * (capacity 4, 20 ms per call + 1 ms per document, connection reset over
 * capacity), into MariaDB. leftright with cap = C and 4C, BullMQ, the original.
 */
export async function versusGpuScenario(): Promise<void> {
  const n = quick ? 1000 : 5000
  const stops: (() => void)[] = []
  const broker = await startKafka({ after: (fn) => stops.push(fn) })
  const gpu = await startGpuProcess({ capacity: CAPACITY, callMs: CALL_MS, docMs: DOC_MS, over: 'reset' })
  const kafka = createKafkaClient([broker], pino({ level: 'silent' }), 'bench-versus')
  const work = mkdtempSync(path.join(tmpdir(), 'lr-bench-versus-'))
  const rows: Outcome[] = []
  try {
    const docs = sampleDocs(n)
    const values = docs.map((d) => JSON.stringify(d))
    const contenders: {
      name: string
      run(topic: string, dbUrl: string): Promise<Omit<Outcome, 'name' | 'gpu'>>
    }[] = [
      ...[CAPACITY, 4 * CAPACITY].map((cap) => ({
        name: `leftright, cap ${cap}${cap === CAPACITY ? ' (C)' : ' (4C, adaptive)'}`,
        async run(topic: string, dbUrl: string) {
          const r = await runTimed(
            cli,
            ['start', '--once', '--data-dir', path.join(work, `lr-${cap}-${topic}`)],
            {
              LR_KAFKA_BROKERS: broker,
              LR_KAFKA_TOPIC: topic,
              LR_KAFKA_GROUP: `g-${topic}`,
              LR_MYSQL_URL: dbUrl,
              LR_NER_URL: gpu.url,
              LR_GPU_CONCURRENCY: String(cap),
            },
          )
          return { seconds: r.seconds, docsOk: -1, docsLost: -1, maxRssKb: r.maxRssKb }
        },
      })),
      {
        name: 'BullMQ (concurrency C, same client and sink)',
        async run(topic: string, dbUrl: string) {
          const r = await runTimed(baseline('bullmq-box'), [], {
            BENCH_BULLMQ: JSON.stringify({
              source: { kind: 'kafka', brokers: broker, topic, count: n },
              queue: `bench-${topic}`,
              concurrency: CAPACITY,
              mysqlUrl: dbUrl,
              nerUrl: gpu.url,
            }),
          })
          const o = lastJson(r.stdout)
          return { seconds: r.seconds, docsOk: -1, docsLost: o.docsLost ?? 0, maxRssKb: r.maxRssKb }
        },
      },
      {
        name: 'original: 6 processes, 1 doc per call, row by row',
        async run(topic: string, dbUrl: string) {
          const r = await runTimed(baseline('original'), [], {
            BENCH_ORIGINAL: JSON.stringify({
              source: { kind: 'kafka', brokers: broker, topic, count: n },
              processes: 6,
              mysqlUrl: dbUrl,
              nerUrl: gpu.url,
            }),
          })
          const o = lastJson(r.stdout)
          return {
            seconds: r.seconds,
            docsOk: -1,
            docsLost: -1,
            maxRssKb: r.maxRssKb + (o.childMaxRssKb ?? 0),
          }
        },
      },
    ]
    for (const c of contenders) {
      const topic = freshTopic('versus')
      await produce(kafka, topic, values)
      await withTables('versus', async (db) => {
        await gpu.resetStats()
        const r = await c.run(topic, db.url)
        rows.push(await gpuOutcome(db.pool, n, c.name, r, await gpu.stats()))
      })
    }
  } finally {
    await kafka.close()
    await gpu.close()
    for (const stop of stops) stop()
    rmSync(work, { recursive: true, force: true })
  }
  const lr = rows[0] as Outcome
  console.log(
    `versus-gpu: ${n} documents from Kafka (kcat mock broker) -> mock GPU (capacity ${CAPACITY}, ${CALL_MS} ms per call + ${DOC_MS} ms per document, reset over capacity) -> MariaDB; ${cpus().length} cores`,
  )
  console.log(
    table(
      [
        'contender',
        'docs/s',
        'vs leftright cap C',
        'busy, whole run (% of limit)',
        'busy, service window',
        'rejected calls',
        'documents lost',
        'peak RSS (MB)',
      ],
      rows.map((r) => [
        r.name,
        rate(r).toFixed(0),
        versus(r, lr),
        `${((100 * (r.gpu?.busyMs ?? 0)) / (CAPACITY * r.seconds * 1000)).toFixed(1)}%`,
        busyInWindow(r),
        `${r.gpu?.rejected ?? 0} (${((100 * (r.gpu?.rejected ?? 0)) / Math.max(1, (r.gpu?.calls ?? 0) + (r.gpu?.rejected ?? 0))).toFixed(1)}%)`,
        r.docsLost,
        (r.maxRssKb / 1024).toFixed(0),
      ]),
    ),
  )
  console.log(
    "(wall time of each whole process, start-up and Kafka consumption included; the original's RSS is the sum of its 7 processes; lost = neither a result row nor a recorded failure.)",
  )
}

/**
 * Scenario 1b, GPU-bound from a file (the whole-process figure): 20,000
 * documents in a JSONL file, through the mock GPU service (capacity 4, 20 ms per call
 * + 1 ms per document, reset over capacity), into MariaDB. leftright at cap = C as
 * enqueue then start --once, start --once FILE (one command), and side by side; BullMQ
 * (concurrency C) from the file.
 * With `--base REV`, that revision's enqueue then start --once as well.
 * Contenders rotated over rounds; medians.
 */
export async function versusGpuFileScenario(): Promise<void> {
  const baseRev = process.argv.includes('--base') ? baseRevision('HEAD~1') : null
  const n = quick ? 2000 : 20_000
  const rounds = quick ? 1 : 3
  const gpu = await startGpuProcess({ capacity: CAPACITY, callMs: CALL_MS, docMs: DOC_MS, over: 'reset' })
  const work = mkdtempSync(path.join(tmpdir(), 'lr-bench-versus-gpu-file-'))
  const input = writeSampleJsonl(work, n)
  const base = baseRev ? buildRevision(baseRev, work) : null
  const lrEnv = (dbUrl: string) => ({
    LR_MYSQL_URL: dbUrl,
    LR_NER_URL: gpu.url,
    LR_RECOGNIZER: 'http',
    LR_GPU_CONCURRENCY: String(CAPACITY),
  })
  type Run = { seconds: number; maxRssKb: number }
  const contenders: { name: string; run(dbUrl: string): Promise<Run> }[] = [
    {
      name: 'leftright cap C (enqueue, then start --once)',
      run: (dbUrl) => enqueueThenStart(input, path.join(work, `lr-${Date.now()}`), [], lrEnv(dbUrl)),
    },
    {
      name: 'leftright cap C (start --once FILE: one command)',
      run: (dbUrl) => startWithFile(input, path.join(work, `lr-${Date.now()}`), [], lrEnv(dbUrl)),
    },
    {
      name: 'leftright cap C (enqueue and start --once side by side)',
      run: (dbUrl) => enqueueBesideStart(input, path.join(work, `lr-${Date.now()}`), [], lrEnv(dbUrl)),
    },
    ...(base
      ? [
          {
            name: `leftright ${baseRev} cap C (enqueue, then start --once)`,
            run: (dbUrl: string) =>
              enqueueThenStart(input, path.join(work, `base-${Date.now()}`), [], lrEnv(dbUrl), base.bin),
          },
        ]
      : []),
    {
      name: 'BullMQ (concurrency C, same client and sink)',
      async run(dbUrl) {
        return runTimed(baseline('bullmq-box'), [], {
          BENCH_BULLMQ: JSON.stringify({
            source: { kind: 'file', path: input },
            queue: `bench-gpu-file-${Date.now()}`,
            concurrency: CAPACITY,
            mysqlUrl: dbUrl,
            nerUrl: gpu.url,
          }),
        })
      },
    },
  ]
  const runs = new Map<string, Outcome[]>()
  try {
    for (let round = 0; round < rounds; round++) {
      for (const c of rotated(contenders, round)) {
        await withTables('vgpuf', async (db) => {
          await gpu.resetStats()
          const r = await c.run(db.url)
          runs.set(c.name, [
            ...(runs.get(c.name) ?? []),
            await gpuOutcome(db.pool, n, c.name, r, await gpu.stats()),
          ])
        })
      }
    }
  } finally {
    await gpu.close()
    base?.remove()
    rmSync(work, { recursive: true, force: true })
  }
  // The round with the median wall time stands for each contender.
  const rows = contenders.map((c) => {
    const list = [...(runs.get(c.name) ?? [])].sort((a, b) => a.seconds - b.seconds)
    return list[Math.floor(list.length / 2)] as Outcome
  })
  const lr = rows[0] as Outcome
  console.log(
    `versus-gpu-file: ${n} documents from a JSONL file -> mock GPU (capacity ${CAPACITY}, ${CALL_MS} ms per call + ${DOC_MS} ms per document, reset over capacity) -> MariaDB; ${cpus().length} cores; ${rounds} round(s) rotated, the median round of each`,
  )
  console.log(
    table(
      [
        'contender',
        'docs/s',
        'vs leftright (sequential)',
        'busy, service window',
        'rejected calls',
        'documents lost',
        'peak RSS (MB)',
      ],
      rows.map((r) => [
        r.name,
        rate(r).toFixed(0),
        versus(r, lr),
        busyInWindow(r),
        `${r.gpu?.rejected ?? 0}`,
        r.docsLost,
        (r.maxRssKb / 1024).toFixed(0),
      ]),
    ),
  )
  console.log('(wall time of the whole job, enqueueing included; peak RSS: the larger process.)')
}

/**
 * Scenario 2, sink-bound: documents from a JSONL file, no recognition, into
 * MariaDB. leftright (enqueue + start --once, 4 workers), BullMQ (one job per
 * 100 documents, concurrency 4, the same sink), the original (6 processes, row
 * by row) and LOAD DATA of the same rows (the limit).
 */
export async function versusSinkScenario(): Promise<void> {
  const n = Number(argAfter('--docs') ?? (quick ? 20_000 : 200_000))
  const rounds = Number(argAfter('--rounds') ?? (quick ? 1 : 3))
  // --dir DIR: the input and the data dirs there: another file system (bench/RESULTS.md, tenth session:
  // creates on these machines' journal-less ext4 slow down with every recent deletion).
  const work = mkdtempSync(path.join(argAfter('--dir') ?? tmpdir(), 'lr-bench-versus-sink-'))
  const input = writeSampleJsonl(work, n)
  // leftright creates a file per batch: how much a create costs here, before and after the runs.
  const createBefore = createCostUs(work)
  let createAfter = Number.NaN
  // `rounds`: each round's seconds, for the contenders run in every round.
  const rows: { name: string; seconds: number; docs: number; maxRssKb: number; rounds?: number[] }[] = []
  const count = async (pool: import('mysql2/promise').Pool) => {
    const [[r]] = await pool.query<RowDataPacket[]>('SELECT COUNT(DISTINCT doc_id) AS n FROM doc_ent_map')
    return Number(r?.n)
  }
  try {
    const contenders: { name: string; run(dbUrl: string): Promise<{ seconds: number; maxRssKb: number }> }[] =
      [
        {
          name: 'leftright (start --once FILE: one command, one process; 4 workers)',
          run: (dbUrl) =>
            startWithFile(input, path.join(work, `lr-${Date.now()}`), ['--recognizer', 'none'], {
              LR_MYSQL_URL: dbUrl,
            }),
        },
        {
          name: 'leftright (enqueue, then start --once; 4 workers)',
          run: (dbUrl) =>
            enqueueThenStart(input, path.join(work, `lr-${Date.now()}`), ['--recognizer', 'none'], {
              LR_MYSQL_URL: dbUrl,
            }),
        },
        {
          name: 'leftright (enqueue and start --once side by side; 4 workers)',
          async run(dbUrl) {
            const r = await enqueueBesideStart(
              input,
              path.join(work, `lr-${Date.now()}`),
              ['--recognizer', 'none'],
              {
                LR_MYSQL_URL: dbUrl,
              },
            )
            return { seconds: r.seconds, maxRssKb: r.sumRssKb }
          },
        },
        {
          name: 'BullMQ (job per 100 docs, concurrency 4, same sink)',
          async run(dbUrl) {
            const r = await runTimed(baseline('bullmq-box'), [], {
              BENCH_BULLMQ: JSON.stringify({
                source: { kind: 'file', path: input },
                queue: `bench-sink-${Date.now()}`,
                concurrency: 4,
                mysqlUrl: dbUrl,
                nerUrl: null,
              }),
            })
            return r
          },
        },
      ]
    const runs = new Map<string, { seconds: number; docs: number; maxRssKb: number }[]>()
    for (let round = 0; round < rounds; round++) {
      for (const c of rotated(contenders, round)) {
        await withTables('vsink', async (db) => {
          const r = await c.run(db.url)
          runs.set(c.name, [...(runs.get(c.name) ?? []), { ...r, docs: await count(db.pool) }])
        })
      }
    }
    for (const c of contenders) {
      const list = runs.get(c.name) ?? []
      rows.push({
        name: c.name,
        seconds: median(list.map((r) => r.seconds)),
        docs: Math.min(...list.map((r) => r.docs)),
        maxRssKb: Math.max(...list.map((r) => r.maxRssKb)),
        rounds: list.map((r) => r.seconds),
      })
    }
    // The original scripts: once (they are an order of magnitude slower).
    await withTables('vsink', async (db) => {
      const r = await runTimed(baseline('original'), [], {
        BENCH_ORIGINAL: JSON.stringify({
          source: { kind: 'file', path: input },
          processes: 6,
          mysqlUrl: db.url,
          nerUrl: null,
        }),
      })
      rows.push({
        name: 'original: 6 processes, row by row (one round)',
        seconds: r.seconds,
        docs: await count(db.pool),
        maxRssKb: r.maxRssKb + (lastJson(r.stdout).childMaxRssKb ?? 0),
      })
    })
    await withTables('vsink', async (db) => {
      const tsv = path.join(work, 'rows.tsv')
      writeFileSync(
        tsv,
        `${sameRows(n)
          .map((r) => r.join('\t'))
          .join('\n')}\n`,
      )
      const seconds = await loadData(db.pool, tsv)
      rows.push({
        name: 'LOAD DATA of the same rows (the limit)',
        seconds,
        docs: await count(db.pool),
        maxRssKb: 0,
      })
    })
    createAfter = createCostUs(work)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  const lr = rows[0] as (typeof rows)[number]
  const bull = rows.find((r) => r.name.startsWith('BullMQ')) ?? lr
  console.log(
    `versus-sink: ${n} documents, no recognition, into MariaDB (127.0.0.1); data dirs under ${path.dirname(work)}; ${cpus().length} cores; ${rounds} round(s), contenders rotated, medians`,
  )
  // Against BullMQ's time in the same round: the range shows a ratio that moves with the machine.
  const perRound = (r: (typeof rows)[number]): string => {
    if (!r.rounds || !bull.rounds || r.rounds.length < 2) return '-'
    const ratios = r.rounds.map((sec, i) => (bull.rounds?.[i] ?? sec) / sec)
    return `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}x`
  }
  console.log(
    table(
      [
        'contender',
        'docs/s',
        'vs leftright',
        'vs BullMQ',
        'vs BullMQ, round by round',
        'documents stored',
        'peak RSS (MB)',
      ],
      rows.map((r) => [
        r.name,
        (r.docs / r.seconds).toFixed(0),
        `${(r.docs / r.seconds / (lr.docs / lr.seconds)).toFixed(2)}x`,
        `${(r.docs / r.seconds / (bull.docs / bull.seconds)).toFixed(2)}x`,
        perRound(r),
        r.docs,
        r.maxRssKb ? (r.maxRssKb / 1024).toFixed(0) : '-',
      ]),
    ),
  )
  console.log(
    '(wall time of each whole job: process start-up, reading the file and enqueueing included; side by side: from launching enqueue to both processes ending, RSS the sum of the two; LOAD DATA: the statement alone, rows prepared in advance.)',
  )
  console.log(
    `(an empty file's create in ${path.dirname(work)}: ${createBefore.toFixed(0)} us before the runs, ${createAfter.toFixed(0)} us after, medians of 200; on a journal-less ext4 it grows with the files deleted there in the last minutes)`,
  )
}
