/**
 * What the users' original scripts did: 6 worker processes, each posting one
 * document per call to the entity service with no cap, dropping a document
 * whose call fails (`except: pass`), and inserting each result row by row with
 * autocommit. The parent reads the source (Kafka or a file), hands each child a
 * sixth of the documents, and sums what they did.
 *
 * Config as JSON in BENCH_ORIGINAL; prints one JSON line: {docsOk, docsLost, childMaxRssKb}.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import path from 'node:path'
import mysql from 'mysql2/promise'
import pino from 'pino'
import { createKafkaClient } from '../../src/adapters/kafka.js'

type Doc = { doc_id: string; text: string }
interface Config {
  source: { kind: 'kafka'; brokers: string; topic: string; count: number } | { kind: 'file'; path: string }
  processes: number
  mysqlUrl: string
  nerUrl: string | null
}

async function child(file: string, cfg: Config): Promise<void> {
  const docs = JSON.parse(readFileSync(file, 'utf8')) as Doc[]
  const db = await mysql.createConnection({ uri: cfg.mysqlUrl, charset: 'utf8mb4' })
  let ok = 0
  let lost = 0
  for (const doc of docs) {
    let ents: unknown[] = []
    let mapped: unknown[] = []
    if (cfg.nerUrl) {
      try {
        const res = await fetch(cfg.nerUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ data_list: [doc] }),
        })
        if (res.status !== 200) {
          await res.text()
          lost++
          continue
        }
        const [r] = (await res.json()) as { ent_list: unknown[]; maaped_ent: unknown[] }[]
        ents = r?.ent_list ?? []
        mapped = r?.maaped_ent ?? []
      } catch {
        lost++ // except: pass
        continue
      }
    }
    await db.query(
      `INSERT INTO doc_ent_map (doc_id, ent_list_str, mapped_list_str, batch_id, host) VALUES (?, ?, ?, 'original', ?)
       ON DUPLICATE KEY UPDATE ent_list_str = VALUES(ent_list_str), mapped_list_str = VALUES(mapped_list_str)`,
      [doc.doc_id, JSON.stringify(ents), JSON.stringify(mapped), hostname()],
    )
    ok++
  }
  await db.end()
  process.stdout.write(`${JSON.stringify({ ok, lost })}\n`)
}

async function readSource(cfg: Config): Promise<Doc[]> {
  if (cfg.source.kind === 'file') {
    return readFileSync(cfg.source.path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Doc)
  }
  const src = cfg.source
  const kafka = createKafkaClient([src.brokers], pino({ level: 'silent' }), 'bench-original')
  const consumer = await kafka.consumer(`bench-original-${process.pid}`, src.topic, { maxWaitMs: 200 })
  const docs: Doc[] = []
  await new Promise<void>((resolve) => {
    void consumer.run(async (ctx) => {
      for (const m of ctx.messages) docs.push(JSON.parse(String(m.value)) as Doc)
      const last = ctx.messages[ctx.messages.length - 1]?.offset ?? '0'
      await ctx.commit(last)
      if (docs.length >= src.count) resolve()
    })
  })
  await consumer.stop()
  await kafka.close()
  return docs
}

async function parent(cfg: Config): Promise<void> {
  const docs = await readSource(cfg)
  const dir = mkdtempSync(path.join(tmpdir(), 'lr-bench-original-'))
  try {
    const runs = Array.from({ length: cfg.processes }, (_, i) => {
      const file = path.join(dir, `part-${i}.json`)
      writeFileSync(file, JSON.stringify(docs.filter((_, j) => j % cfg.processes === i)))
      const rss = path.join(dir, `rss-${i}`)
      const p = spawn(
        '/usr/bin/time',
        ['-f', '%M', '-o', rss, process.execPath, process.argv[1] as string, file],
        {
          env: process.env,
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      )
      let out = ''
      p.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c
      })
      return new Promise<{ ok: number; lost: number; rssKb: number }>((resolve, reject) =>
        p.on('exit', (code) => {
          if (code !== 0) return reject(new Error(`original child exited ${code}`))
          resolve({
            ...(JSON.parse(out) as { ok: number; lost: number }),
            rssKb: Number(readFileSync(rss, 'utf8').trim()),
          })
        }),
      )
    })
    const parts = await Promise.all(runs)
    const sum = (k: 'ok' | 'lost' | 'rssKb') => parts.reduce((n, p) => n + p[k], 0)
    process.stdout.write(
      `${JSON.stringify({ docsOk: sum('ok'), docsLost: sum('lost'), childMaxRssKb: sum('rssKb') })}\n`,
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const cfg = JSON.parse(process.env.BENCH_ORIGINAL ?? '{}') as Config
const file = process.argv[2]
if (file) await child(file, cfg)
else await parent(cfg)
