import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import path from 'node:path'
import { Pool } from 'undici'
import { type MockGpu, startMockGpu } from '../scripts/mock-gpu.js'
import { countResults, quick, runCli, runCliAsync, sampleDocs, table, writeSampleJsonl } from './common.js'

const CAPACITY = 4
const CALL_MS = 20

interface Row {
  name: string
  seconds: number
  docsOk: number
  calls: number
  rejected: number
  busyMs: number
  activeMs: number
}

/**
 * GPU-bound: the mock service serves CAPACITY calls at once, CALL_MS each, and
 * resets connections over capacity. The limit is CAPACITY / CALL_MS calls per
 * second; the share of it used is the service's busy slot-time over
 * CAPACITY x the run's wall time. Contenders: the pool with cap = C, the pool
 * with cap = 4C (adaptive), and the original scripts' client (6 independent
 * callers, one document per call, no cap, failures dropped).
 */
export async function gpuScenario(): Promise<void> {
  const docs = quick ? 4000 : 20_000
  const work = mkdtempSync(path.join(tmpdir(), 'lr-bench-gpu-'))
  const gpu = await startMockGpu({ capacity: CAPACITY, callMs: CALL_MS, over: 'reset' })
  const rows: Row[] = []
  try {
    const input = writeSampleJsonl(work, docs)
    for (const cap of [CAPACITY, 4 * CAPACITY]) {
      const dataDir = path.join(work, `cap-${cap}`)
      runCli(['enqueue', input, '--data-dir', dataDir])
      gpu.resetStats()
      const seconds = await runCliAsync(['start', '--once', '--data-dir', dataDir], {
        LR_NER_URL: gpu.url,
        LR_GPU_CONCURRENCY: String(cap),
      })
      const s = gpu.stats()
      rows.push({
        name: `pool, cap ${cap} (${cap === CAPACITY ? 'C' : '4C, adaptive'})`,
        seconds,
        docsOk: countResults(dataDir),
        calls: s.calls,
        rejected: s.rejected,
        busyMs: s.busyMs,
        activeMs: s.activeMs,
      })
    }
    gpu.resetStats()
    rows.push(await bareClient(gpu, docs))
    gpu.resetStats()
    rows.push(await originalClient(gpu, docs))
  } finally {
    await gpu.close()
    rmSync(work, { recursive: true, force: true })
  }
  console.log(
    `gpu: ${docs} documents, mock service capacity C=${CAPACITY}, ${CALL_MS} ms per call (limit ${(CAPACITY * 1000) / CALL_MS} calls/s), resets over capacity; pool: 4 workers, batch 100, 16 docs per call; ${cpus().length} cores`,
  )
  console.log(
    table(
      [
        'client',
        'docs/s',
        'busy, whole run (% of limit)',
        'busy, service window (% of limit)',
        'calls',
        'rejected calls',
        'documents lost',
      ],
      rows.map((r) => [
        r.name,
        (r.docsOk / r.seconds).toFixed(0),
        `${((100 * r.busyMs) / (CAPACITY * r.seconds * 1000)).toFixed(1)}%`,
        `${((100 * r.busyMs) / (CAPACITY * r.activeMs)).toFixed(1)}%`,
        r.calls + r.rejected,
        `${r.rejected} (${((100 * r.rejected) / (r.calls + r.rejected)).toFixed(1)}%)`,
        docs - r.docsOk,
      ]),
    ),
  )
  console.log(
    '(whole run: over the wall time of `start --once`, process start-up included; service window: from the first call the service accepted to the end of the last; busy = the slot-time of the calls it accepted.)',
  )
}

/** A table row from a run's wall time, documents served and the mock service's counters. */
function rowFromService(name: string, seconds: number, docsOk: number, gpu: MockGpu): Row {
  const s = gpu.stats()
  return {
    name,
    seconds,
    docsOk,
    calls: s.calls,
    rejected: s.rejected,
    busyMs: s.busyMs,
    activeMs: s.activeMs,
  }
}

/**
 * The ceiling for any client that keeps at most C calls in flight: C loops, each
 * posting 16 documents and the next call as soon as the answer is read; no files,
 * no retries. A slot stays idle for one round trip per call, which caps it below 100%.
 */
async function bareClient(gpu: MockGpu, n: number): Promise<Row> {
  const queue = sampleDocs(n)
  const pool = new Pool(new URL(gpu.url).origin, { connections: CAPACITY })
  let ok = 0
  const started = performance.now()
  const loop = async () => {
    for (;;) {
      const docs = queue.splice(0, 16)
      if (docs.length === 0) return
      const res = await pool.request({
        path: new URL(gpu.url).pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data_list: docs }),
      })
      const answer = (await res.body.json()) as unknown[]
      if (res.statusCode === 200) ok += answer.length
    }
  }
  await Promise.all(Array.from({ length: CAPACITY }, loop))
  const seconds = (performance.now() - started) / 1000
  await pool.close()
  return rowFromService('bare client: C loops, 16 docs per call (ceiling at cap C)', seconds, ok, gpu)
}

/** What the original scripts did: 6 worker processes, each posting one document at a time; a failure is dropped. */
async function originalClient(gpu: MockGpu, n: number): Promise<Row> {
  const queue = sampleDocs(n)
  let ok = 0
  const started = performance.now()
  const caller = async () => {
    for (let doc = queue.pop(); doc; doc = queue.pop()) {
      try {
        const res = await fetch(gpu.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ data_list: [doc] }),
        })
        if (res.status === 200) {
          await res.json()
          ok++
        } else await res.text()
      } catch {
        // `except: pass`
      }
    }
  }
  await Promise.all(Array.from({ length: 6 }, caller))
  const seconds = (performance.now() - started) / 1000
  return rowFromService('original: 6 callers, 1 doc per call, no cap', seconds, ok, gpu)
}
