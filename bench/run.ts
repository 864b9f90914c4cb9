/**
 * `npm run bench -- [scenario] [--quick]`. Scenarios:
 *   pool   enqueue and `start --once` through the real CLI on copies of the shipped
 *          sample, with each recognizer (builtin, dictionary, none), side by side.
 * Prints a table; paste it with the command into bench/RESULTS.md.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import path from 'node:path'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')
const cli = path.join(root, 'bin', 'leftright.js')
const quick = process.argv.includes('--quick')
const scenario = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'pool'

function runCli(args: string[], env: Record<string, string> = {}): number {
  const started = performance.now()
  const r = spawnSync(process.execPath, [cli, ...args], {
    env: {
      ...process.env,
      LR_LOG_FORMAT: 'json',
      LR_LOG_LEVEL: 'warn',
      LR_HTTP: 'off',
      LR_SAMPLE: 'off',
      ...env,
    },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  if (r.status !== 0) throw new Error(`leftright ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return (performance.now() - started) / 1000
}

/** The sample, repeated with fresh doc_ids until `n` documents. */
function makeInput(dir: string, n: number): string {
  const sample = readFileSync(path.join(root, 'data', 'sample', 'sample.jsonl'), 'utf8')
    .trim()
    .split('\n')
  const lines: string[] = []
  for (let i = 0; i < n; i++) {
    const doc = JSON.parse(sample[i % sample.length] as string) as { doc_id: string }
    doc.doc_id = `bench-${i}`
    lines.push(JSON.stringify(doc))
  }
  const file = path.join(dir, 'input.jsonl')
  writeFileSync(file, `${lines.join('\n')}\n`)
  return file
}

function poolScenario(): void {
  const docs = quick ? 2000 : 10_000
  const rounds = quick ? 1 : 2
  const recognizers = ['builtin', 'dictionary', 'none']
  const work = mkdtempSync(path.join(tmpdir(), 'lr-bench-'))
  const input = makeInput(work, docs)
  const rows: Record<string, { enqueue: number[]; run: number[] }> = {}
  try {
    // Alternate contenders round by round so machine noise spreads over all of them.
    for (let round = 0; round < rounds; round++) {
      for (const recognizer of recognizers) {
        const dataDir = path.join(work, `${recognizer}-${round}`)
        const enqueueS = runCli(['enqueue', input, '--data-dir', dataDir])
        const runS = runCli(['start', '--once', '--data-dir', dataDir, '--recognizer', recognizer])
        rows[recognizer] ??= { enqueue: [], run: [] }
        rows[recognizer].enqueue.push(docs / enqueueS)
        rows[recognizer].run.push(docs / runS)
        rmSync(dataDir, { recursive: true, force: true })
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
  const base = median(rows.none?.run ?? [1])
  console.log(
    `pool: ${docs} documents, batch 100, 4 workers, gpu-concurrency 2, ${cpus().length} cores, ${rounds} round(s)`,
  )
  console.log('| recognizer | start --once docs/s | vs none | enqueue docs/s |')
  console.log('| --- | ---: | ---: | ---: |')
  for (const r of recognizers) {
    const row = rows[r] as { enqueue: number[]; run: number[] }
    const run = median(row.run)
    console.log(
      `| ${r} | ${run.toFixed(0)} | ${(run / base).toFixed(2)} | ${median(row.enqueue).toFixed(0)} |`,
    )
  }
  console.log('(wall time of the whole CLI process, start-up and thread warm-up included)')
}

if (scenario === 'pool') poolScenario()
else {
  console.error(`unknown scenario "${scenario}" (known: pool)`)
  process.exit(2)
}
