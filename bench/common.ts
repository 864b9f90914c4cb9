import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import mysql, { type Pool } from 'mysql2/promise'
import { loadSettings } from '../src/core/config.js'
import { createSourceTable } from '../src/feed/source-table.js'
import { createResultTables } from '../src/sink/mysql-tables.js'

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')
export const cli = path.join(root, 'bin', 'leftright.js')
export const quick = process.argv.includes('--quick')

/** The value after `flag` on the command line, if any. */
export const argAfter = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag)
  return i >= 0 ? process.argv[i + 1] : undefined
}

/** The baseline revision named by `--base REV` on the command line, else `fallback`. */
export function baseRevision(fallback: string): string {
  const at = process.argv.indexOf('--base')
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback
}

/** Quiet JSON logs, no status server, no sample seeding. */
export const cliEnv = (env: Record<string, string>): NodeJS.ProcessEnv => ({
  ...process.env,
  LR_LOG_FORMAT: 'json',
  LR_LOG_LEVEL: 'warn',
  LR_HTTP: 'off',
  LR_SAMPLE: 'off',
  ...env,
})

/** Run the real CLI to completion; returns its wall time in seconds. */
export function runCli(args: string[], env: Record<string, string> = {}): number {
  return runCliAt(cli, args, env)
}

/** runCli with another build of the CLI (a baseline revision's `bin/leftright.js`). */
export function runCliAt(cliPath: string, args: string[], env: Record<string, string> = {}): number {
  const started = performance.now()
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    env: cliEnv(env),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  if (r.status !== 0) throw new Error(`leftright ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return (performance.now() - started) / 1000
}

/** runCli without blocking the event loop (for contenders served from this process, like the mock GPU). */
export function runCliAsync(args: string[], env: Record<string, string> = {}): Promise<number> {
  return runCliAtAsync(cli, args, env)
}

/** runCliAsync with another build of the CLI (a baseline revision's). */
export function runCliAtAsync(
  cliPath: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<number> {
  const started = performance.now()
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: cliEnv(env),
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c
  })
  return new Promise((resolve, reject) =>
    child.on('exit', (code) =>
      code === 0
        ? resolve((performance.now() - started) / 1000)
        : reject(new Error(`leftright ${args.join(' ')} exited ${code}: ${stderr}`)),
    ),
  )
}

/** The shipped sample, repeated with fresh doc_ids until `n` documents. */
export function sampleDocs(n: number, prefix = 'bench'): { doc_id: string; text: string }[] {
  const sample = readFileSync(path.join(root, 'data', 'sample', 'sample.jsonl'), 'utf8')
    .trim()
    .split('\n')
  return Array.from({ length: n }, (_, i) => {
    const doc = JSON.parse(sample[i % sample.length] as string) as { doc_id: string; text: string }
    return { doc_id: `${prefix}-${i}`, text: doc.text }
  })
}

export function writeSampleJsonl(dir: string, n: number): string {
  const file = path.join(dir, 'input.jsonl')
  writeFileSync(
    file,
    `${sampleDocs(n)
      .map((d) => JSON.stringify(d))
      .join('\n')}\n`,
  )
  return file
}

export const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

const MYSQL_ROOT = { host: '127.0.0.1', port: 3306, user: 'root', password: '' }

/** A database of its own for a bench run; `drop()` removes it. */
export async function benchDatabase(
  label: string,
): Promise<{ name: string; url: string; pool: Pool; drop(): Promise<void> }> {
  const name = `lr_bench_${label}_${randomBytes(3).toString('hex')}`
  const admin = await mysql.createConnection(MYSQL_ROOT)
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`)
  await admin.end()
  const pool = mysql.createPool({ ...MYSQL_ROOT, database: name, connectionLimit: 2, charset: 'utf8mb4' })
  return {
    name,
    url: `mysql://root@127.0.0.1:3306/${name}`,
    pool,
    async drop() {
      await pool.end()
      const c = await mysql.createConnection(MYSQL_ROOT)
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``)
      await c.end()
    },
  }
}

/** Markdown table from a header and rows. */
export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n')
}

/** Run a node script under /usr/bin/time; resolves with wall time, peak RSS (KB) and stdout. */
export function runTimed(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ seconds: number; maxRssKb: number; stdout: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lr-bench-time-'))
  const rssFile = path.join(dir, 'rss')
  const started = performance.now()
  const child = spawn('/usr/bin/time', ['-f', '%M', '-o', rssFile, process.execPath, script, ...args], {
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c
  })
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c
  })
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => {
      const seconds = (performance.now() - started) / 1000
      const maxRssKb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop())
      rmSync(dir, { recursive: true, force: true })
      if (code !== 0)
        return reject(new Error(`${path.basename(script)} exited ${code}: ${stderr.slice(-2000)}`))
      resolve({ seconds, maxRssKb, stdout })
    }),
  )
}

/**
 * A scenario against a baseline revision: `--base REV` (default HEAD~1), a temp folder for the
 * scenario (`lr-bench-<name>-`), and that revision built in it. The caller removes both
 * (`base.remove()`, then the folder).
 */
export function againstBase(name: string): {
  baseRev: string
  work: string
  base: { bin: string; remove(): void }
} {
  const baseRev = baseRevision('HEAD~1')
  const work = mkdtempSync(path.join(tmpdir(), `lr-bench-${name}-`))
  return { baseRev, work, base: buildRevision(baseRev, work) }
}

/**
 * Check out `rev` into a temp worktree under `work` and build it with this checkout's
 * node_modules: a baseline to run side by side with this tree. Returns its CLI and a cleanup.
 */
export function buildRevision(rev: string, work: string): { bin: string; remove(): void } {
  const tree = path.join(work, `rev-${rev.replace(/[^\w]/g, '_')}`)
  execFileSync('git', ['-C', root, 'worktree', 'add', '--detach', tree, rev], { stdio: 'ignore' })
  const remove = () =>
    execFileSync('git', ['-C', root, 'worktree', 'remove', '--force', tree], { stdio: 'ignore' })
  try {
    symlinkSync(path.join(root, 'node_modules'), path.join(tree, 'node_modules'))
    execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', path.join(tree, 'tsconfig.json')], {
      stdio: 'inherit',
    })
  } catch (err) {
    remove()
    throw err
  }
  const bin = path.join(tree, 'bin', 'leftright.js')
  if (!existsSync(bin)) {
    remove()
    throw new Error(`${rev} has no bin/leftright.js`)
  }
  return { bin, remove }
}

/** Documents in a data dir's file-sink results (one JSON line each). */
export function countResults(dataDir: string): number {
  const dir = path.join(dataDir, 'results')
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .reduce((n, f) => n + readFileSync(path.join(dir, f), 'utf8').trim().split('\n').length, 0)
}

/** `enqueue`, then `start --once` on the same data dir: the whole job's wall time, the larger peak RSS. */
export async function enqueueThenStart(
  input: string,
  dataDir: string,
  startArgs: string[],
  env: Record<string, string>,
  bin: string = cli,
): Promise<{ seconds: number; maxRssKb: number }> {
  const a = await runTimed(bin, ['enqueue', input, '--data-dir', dataDir], {})
  const b = await runTimed(bin, ['start', '--once', '--data-dir', dataDir, ...startArgs], env)
  return { seconds: a.seconds + b.seconds, maxRssKb: Math.max(a.maxRssKb, b.maxRssKb) }
}

/** `start --once FILE`: one command, one process (a thread of it enqueues the file). */
export function startWithFile(
  input: string,
  dataDir: string,
  startArgs: string[],
  env: Record<string, string>,
): Promise<{ seconds: number; maxRssKb: number }> {
  return runTimed(cli, ['start', '--once', input, '--data-dir', dataDir, ...startArgs], env)
}

/**
 * `enqueue` and `start --once` side by side: start is launched once enqueue has registered as a
 * writer (start --once waits for a live writer). Wall time from launching enqueue to both ending;
 * the peak RSS of each process.
 */
export async function enqueueBesideStart(
  input: string,
  dataDir: string,
  startArgs: string[],
  env: Record<string, string>,
): Promise<{ seconds: number; maxRssKb: number; sumRssKb: number }> {
  const started = performance.now()
  const a = runTimed(cli, ['enqueue', input, '--data-dir', dataDir], {})
  const writers = path.join(dataDir, 'state', 'writers')
  while (!existsSync(writers) || readdirSync(writers).length === 0) await new Promise((r) => setTimeout(r, 5))
  const b = runTimed(cli, ['start', '--once', '--data-dir', dataDir, ...startArgs], env)
  const [ra, rb] = await Promise.all([a, b])
  return {
    seconds: (performance.now() - started) / 1000,
    maxRssKb: Math.max(ra.maxRssKb, rb.maxRssKb),
    sumRssKb: ra.maxRssKb + rb.maxRssKb,
  }
}

/** The contenders of round `round`, rotated so each goes first in turn: drift in the machine spreads over all. */
export const rotated = <T>(items: T[], round: number): T[] =>
  items.map((_, i) => items[(i + round) % items.length] as T)

/** A fresh bench database holding the result and source tables, for `fn`; dropped afterwards. */
export async function withTables<R>(
  label: string,
  fn: (db: Awaited<ReturnType<typeof benchDatabase>>) => Promise<R>,
): Promise<R> {
  const db = await benchDatabase(label)
  try {
    const settings = loadSettings({}, { LR_MYSQL_URL: db.url })
    await createResultTables(db.pool, settings)
    await createSourceTable(db.pool, settings)
    return await fn(db)
  } finally {
    await db.drop()
  }
}

/**
 * What creating an empty file costs in `dir` now (median of `n`, in microseconds; the files are
 * removed after). On these machines' ext4 (no journal) it ranged from 20 us to 900 us, by how many
 * files had been deleted there in the last minutes (bench/RESULTS.md, seventeenth session): a
 * figure of leftright's that creates a file per batch is read with it.
 */
export function createCostUs(dir: string, n = 200): number {
  const probe = mkdtempSync(path.join(dir, 'create-probe-'))
  const times: number[] = []
  try {
    for (let i = 0; i < n; i++) {
      const t = performance.now()
      closeSync(openSync(path.join(probe, String(i)), 'wx'))
      times.push((performance.now() - t) * 1000)
    }
  } finally {
    rmSync(probe, { recursive: true, force: true })
  }
  return median(times)
}
