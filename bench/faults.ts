import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Pool, RowDataPacket } from 'mysql2/promise'
import pino from 'pino'
import { startMockGpu } from '../scripts/mock-gpu.js'
import { createKafkaClient } from '../src/adapters/kafka.js'
import { fillDisk } from '../test/helpers.js'
import { freshTopic, produce, startKafka } from '../test/services.js'
import { benchDatabase, cli, cliEnv, quick, runCli, sampleDocs, table, writeSampleJsonl } from './common.js'

/**
 * `npm run bench -- faults [--quick]`: the fault runs of the "Nothing lost" issue, operated
 * as a user would, with the figures that say whether anything was lost.
 *   kill -9   a Kafka -> mock GPU (capacity 4, resets over capacity) -> MariaDB run, 4 workers,
 *             killed with SIGKILL at 20 random instants, restarted each time
 *   disk full the data dir (a tmpfs) at 0 bytes free for a minute mid-run, then freed
 *   outage    the entity service down for 60 s mid-run, then back
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Run {
  child: ChildProcess
  out: string[]
  exited: Promise<number | null>
}

function start(args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...cliEnv(env), LR_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const out: string[] = []
  let partial = ''
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    const lines = (partial + c).split('\n')
    partial = lines.pop() ?? ''
    out.push(...lines)
  })
  child.stderr?.resume()
  return { child, out, exited: new Promise((r) => child.on('exit', (code) => r(code))) }
}

async function rowFigures(
  pool: Pool,
  expected: number,
): Promise<{ rows: number; missing: number; duplicates: number }> {
  const [[r]] = await pool.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n, COUNT(DISTINCT doc_id) AS d FROM doc_ent_map',
  )
  const rows = Number(r?.n)
  const distinct = Number(r?.d)
  return { rows, missing: expected - distinct, duplicates: rows - distinct }
}

const count = (dir: string): number =>
  readdirSync(dir).filter((f) => !f.startsWith('.') && f.endsWith('.json')).length
const msgs = (run: Run, text: string) => run.out.filter((l) => l.includes(text)).length

async function killRun(rows: (string | number)[][]): Promise<void> {
  const n = quick ? 4000 : 20_000
  const kills = quick ? 5 : 20
  const stops: (() => void)[] = []
  const broker = await startKafka({ after: (fn) => stops.push(fn) })
  const gpu = await startMockGpu({ capacity: 4, callMs: 20, docMs: 1, over: 'reset' })
  const db = await benchDatabase('faults_kill')
  const work = mkdtempSync(path.join(tmpdir(), 'lr-faults-'))
  const kafka = createKafkaClient([broker], pino({ level: 'silent' }), 'bench-faults')
  try {
    const topic = freshTopic('faults')
    await produce(
      kafka,
      topic,
      sampleDocs(n).map((d) => JSON.stringify(d)),
    )
    const env = {
      LR_KAFKA_BROKERS: broker,
      LR_KAFKA_TOPIC: topic,
      LR_KAFKA_GROUP: `g-${topic}`,
      LR_KAFKA_SESSION_TIMEOUT_MS: '6000',
      LR_MYSQL_URL: db.url,
      LR_NER_URL: gpu.url,
      LR_WORKERS: '4',
      LR_GPU_CONCURRENCY: '4',
      LR_STALE_MS: '5000',
    }
    const data = path.join(work, 'data')
    const startedAt = performance.now()
    let killed = 0
    const instants: number[] = []
    for (; killed < kills; killed++) {
      const run = start(['start', '--once', '--data-dir', data], env)
      const at = 300 + Math.floor(Math.random() * 2700)
      instants.push(at)
      const timer = setTimeout(() => run.child.kill('SIGKILL'), at)
      const code = await run.exited
      clearTimeout(timer)
      if (code === 0) break
    }
    const last = start(['start', '--once', '--data-dir', data], env)
    const code = await last.exited
    const seconds = (performance.now() - startedAt) / 1000
    const f = await rowFigures(db.pool, n)
    rows.push([
      `kill -9 x${killed} (at ${Math.min(...instants)}-${Math.max(...instants)} ms into each run)`,
      n,
      f.rows,
      f.missing,
      f.duplicates,
      count(path.join(data, 'dead')),
      readdirSync(path.join(data, 'bad')).length,
      code === 0 ? 'exit 0' : `exit ${code}`,
      seconds.toFixed(0),
    ])
  } finally {
    await kafka.close()
    await gpu.close()
    await db.drop()
    for (const s of stops) s()
    rmSync(work, { recursive: true, force: true })
  }
}

async function diskRun(rows: (string | number)[][]): Promise<void> {
  const n = quick ? 4000 : 20_000
  const fullMs = quick ? 10_000 : 60_000
  const mount = mkdtempSync(path.join(tmpdir(), 'lr-faults-disk-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mount])
  const db = await benchDatabase('faults_disk')
  const work = mkdtempSync(path.join(tmpdir(), 'lr-faults-'))
  try {
    const data = path.join(mount, 'data')
    mkdirSync(data)
    runCli(['enqueue', writeSampleJsonl(work, n), '--data-dir', data])
    const env = { LR_MYSQL_URL: db.url, LR_RECOGNIZER: 'builtin', LR_MIN_FREE_DISK: '0' }
    const startedAt = performance.now()
    const run = start(['start', '--once', '--data-dir', data], env)
    await sleep(2000)
    const filler = fillDisk(mount)
    let upThroughout = true
    for (let waited = 0; waited < fullMs; waited += 1000) {
      await sleep(1000)
      if (run.child.exitCode !== null) upThroughout = false
    }
    rmSync(filler)
    const code = await run.exited
    const seconds = (performance.now() - startedAt) / 1000
    const f = await rowFigures(db.pool, n)
    rows.push([
      `disk at 0 bytes for ${fullMs / 1000} s (${upThroughout ? 'up throughout' : 'EXITED while full'}; ${msgs(run, 'out of disk space')} line out, ${msgs(run, 'disk space is back')} back)`,
      n,
      f.rows,
      f.missing,
      f.duplicates,
      count(path.join(data, 'dead')),
      readdirSync(path.join(data, 'bad')).length,
      code === 0 ? 'exit 0' : `exit ${code}`,
      seconds.toFixed(0),
    ])
  } finally {
    await db.drop()
    execFileSync('umount', ['-l', mount])
    rmSync(mount, { recursive: true, force: true })
    rmSync(work, { recursive: true, force: true })
  }
}

async function outageRun(rows: (string | number)[][]): Promise<void> {
  const n = quick ? 4000 : 20_000
  const downMs = quick ? 10_000 : 60_000
  let gpu = await startMockGpu({ capacity: 4, callMs: 20, docMs: 1, over: 'reset' })
  const port = Number(new URL(gpu.url).port)
  const db = await benchDatabase('faults_outage')
  const work = mkdtempSync(path.join(tmpdir(), 'lr-faults-'))
  try {
    const data = path.join(work, 'data')
    runCli(['enqueue', writeSampleJsonl(work, n), '--data-dir', data])
    const env = { LR_MYSQL_URL: db.url, LR_NER_URL: gpu.url, LR_GPU_CONCURRENCY: '4' }
    const startedAt = performance.now()
    const run = start(['start', '--once', '--data-dir', data], env)
    await sleep(2000)
    await gpu.close()
    await sleep(downMs)
    gpu = await startMockGpu({ port, capacity: 4, callMs: 20, docMs: 1, over: 'reset' })
    const code = await run.exited
    const seconds = (performance.now() - startedAt) / 1000
    const f = await rowFigures(db.pool, n)
    const warn = msgs(run, 'entity service unreachable')
    const info = msgs(run, 'entity service is back')
    rows.push([
      `entity service down ${downMs / 1000} s (${warn} WARN, ${info} INFO)`,
      n,
      f.rows,
      f.missing,
      f.duplicates,
      count(path.join(data, 'dead')),
      readdirSync(path.join(data, 'bad')).length,
      code === 0 ? 'exit 0' : `exit ${code}`,
      seconds.toFixed(0),
    ])
  } finally {
    await gpu.close()
    await db.drop()
    rmSync(work, { recursive: true, force: true })
  }
}

export async function faultsScenario(): Promise<void> {
  const rows: (string | number)[][] = []
  await killRun(rows)
  await diskRun(rows)
  await outageRun(rows)
  console.log(
    'faults: Kafka or left/ -> leftright (4 workers) -> MariaDB; the mock GPU at capacity 4 where used',
  )
  console.log(
    table(['fault', 'documents', 'rows', 'missing', 'duplicate rows', 'dead', 'bad', 'end', 'seconds'], rows),
  )
}
