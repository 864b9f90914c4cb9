import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { chromium } from 'playwright-core'
import { type MockGpu, startMockGpu } from '../../scripts/mock-gpu.js'
import { layoutOf } from '../../src/store/layout.js'
import { registerWriter } from '../../src/store/writers.js'
import {
  type CliRun,
  enqueueFromPipe,
  makeDocs,
  readMarkers,
  repoRoot,
  runCli,
  tempDir,
  writeJsonl,
} from '../helpers.js'

const CHROMIUM = '/usr/bin/chromium'

async function slowRun(
  t: Parameters<typeof tempDir>[0],
  env: Record<string, string> = {},
  docs = 4000,
): Promise<{ run: CliRun; base: string; dir: string; gpu: MockGpu }> {
  // A GPU service of capacity 2 at 50 ms per call: 4,000 documents take several seconds.
  const gpu: MockGpu = await startMockGpu({ capacity: 2, callMs: 50, over: 'queue' })
  t.after(() => gpu.close())
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(docs))
  const enq = runCli(t, ['enqueue', input, '--data-dir', dir])
  assert.equal((await enq.exited).code, 0, enq.stderr)
  const run = runCli(t, ['start', '--once', '--data-dir', dir], {
    LR_HTTP: '127.0.0.1:0',
    LR_NER_URL: gpu.url,
    LR_GPU_CONCURRENCY: '2',
    ...env,
  })
  const line = await run.waitForLine((l) => l.includes('dashboard, /status and /metrics'))
  const url = (JSON.parse(line) as { url: string }).url
  return { run, base: url.replace(/\/$/, ''), dir, gpu }
}

/** Prometheus text exposition format, line by line; returns sample name{labels} -> value. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('#')) {
      assert.match(line, /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/, line)
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+-]+|nan|[+-]inf)(?: \d+)?$/i.exec(line)
    assert.ok(m, `not Prometheus text: ${line}`)
    samples.set(m[1] as string, Number(m[2]))
  }
  return samples
}

test('/metrics is Prometheus text and its counters move during a run; /status is status --json', async (t) => {
  const { run, base } = await slowRun(t)
  const first = parsePrometheus(await (await fetch(`${base}/metrics`)).text())
  await sleep(1500)
  const res = await fetch(`${base}/metrics`)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
  const second = parsePrometheus(await res.text())
  const done = 'leftright_documents_processed_total{outcome="ok"}'
  assert.ok(
    (second.get(done) ?? 0) > (first.get(done) ?? 0),
    `${done}: ${first.get(done)} -> ${second.get(done)}`,
  )
  assert.ok((second.get('leftright_rows_inserted_total') ?? 0) > 0)
  assert.ok((second.get('leftright_insert_seconds_count') ?? 0) > 0)
  assert.equal(second.get('leftright_gpu_limit'), 2)
  assert.ok(second.has('leftright_batches{state="pending"}'))
  assert.ok(second.has('leftright_disk_free_bytes'))
  assert.ok(second.has('leftright_paused{reason="disk"}'))
  assert.ok(second.has('process_cpu_user_seconds_total'), "Node's default process metrics")
  const status = (await (await fetch(`${base}/status`)).json()) as { batches: Record<string, number> }
  assert.deepEqual(Object.keys(status.batches), [
    'pending',
    'claimed',
    'stale',
    'done',
    'failed',
    'handedOff',
    'bad',
  ])
  assert.equal((await run.exited).code, 0, run.stderr)
})

test('the dashboard in headless Chromium shows the counters, and they change while a run progresses', async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (.ci/run does)`)
  const { run, base } = await slowRun(t)
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
  t.after(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${base}/`)
  const done = async () => Number(((await page.textContent('#docs-done')) ?? '').replace(/,/g, ''))
  // (Functions run in the page, given as text: this project's TypeScript has no DOM types.)
  await page.waitForFunction("/^\\d/.test(document.getElementById('docs-done').textContent)")
  const before = await done()
  await page.waitForFunction(
    `Number(document.getElementById('docs-done').textContent.replace(/,/g, '')) > ${before}`,
  )
  const after = await done()
  assert.ok(after > before, `documents done on the page: ${before} -> ${after}`)
  assert.match((await page.textContent('#docs-pending')) ?? '', /^\d[\d,]*$/)
  assert.match((await page.textContent('#gpu')) ?? '', /^\d+ \/ 2$/)
  const artifacts = path.join(repoRoot, 'test-artifacts')
  mkdirSync(artifacts, { recursive: true })
  await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true })
  assert.equal((await run.exited).code, 0, run.stderr)
})

test('the dashboard names an enqueue writing into left/ and how far it has read, until it ends', async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (.ci/run does)`)
  const { run, base, dir } = await slowRun(t)
  // Beside the pool, an enqueue reading a pipe: it writes while the page is open.
  const { run: enq, input } = enqueueFromPipe(t, dir, 30)
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
  t.after(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${base}/`)
  await page.waitForFunction(
    "/enqueue .* documents in \\d+ batches/.test(document.getElementById('writers').textContent)",
  )
  assert.match(
    (await page.textContent('#writers')) ?? '',
    /^writing into left\/: enqueue \(.+ pid \d+\): [\d,]+ documents in [\d,]+ batches, .+ read$/,
  )
  // A writer whose input has a size: the share read, as status gives it.
  const sized = registerWriter(layoutOf(dir), 'start: enqueue')
  t.after(sized.release)
  sized.report({ bytesRead: 300, totalBytes: 1200, docs: 3, batches: 1 })
  await page.waitForFunction(
    "/start: enqueue .* of 1\\.2 KB \\(25%\\)/.test(document.getElementById('writers').textContent)",
  )
  sized.release()
  input.end()
  assert.equal((await enq.exited).code, 0, enq.stderr)
  await page.waitForFunction("document.getElementById('writers').textContent === ''")
  await browser.close()
  run.child.kill('SIGTERM')
  assert.equal((await run.exited).code, 0, run.stderr)
})

test('dashboard chart: the server keeps the history (a reload keeps it), with a time axis; its last point is within 25% of the rate measured from the markers', async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing`)
  // About 20 s of steady work: the chart's 10 s windows are full well before the end.
  const { run, base, dir } = await slowRun(t, {}, 14_000)
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
  t.after(() => browser.close())
  await sleep(12_000)
  const page = await browser.newPage()
  await page.goto(`${base}/`)
  // A fresh page shows the history the server kept before it was opened.
  await page.waitForFunction("document.getElementById('chart-last').dataset.rate > 0")
  const history = (await (await fetch(`${base}/api/history`)).json()) as {
    points: { t: number; rate: number }[]
  }
  assert.ok(
    history.points.length >= 5,
    `${history.points.length} points of history from before the page opened`,
  )
  const pageRate = Number(await page.getAttribute('#chart-last', 'data-rate'))
  // The markers: documents whose batch finished in the 10 s before now.
  const now = Date.now()
  let docs = 0
  for (const m of readMarkers(dir).values()) {
    const at = Date.parse(m.finishedAt ?? '')
    if (m.state === 'done' && at > now - 10_000 && at <= now) docs += m.docs ?? 0
  }
  const markerRate = docs / 10
  assert.ok(markerRate > 0, 'work was finishing')
  assert.ok(
    Math.abs(pageRate - markerRate) <= 0.25 * markerRate,
    `chart ${pageRate.toFixed(1)} docs/s vs markers ${markerRate.toFixed(1)} docs/s`,
  )
  assert.match((await page.textContent('#chart-last')) ?? '', /docs\/s at \d\d:\d\d:\d\d/)
  const claimed = await page.$$eval('#claimed tbody tr', (trs) => trs.length)
  assert.ok(claimed >= 1, 'batches claimed now are listed')
  // A click on a recently done batch shows its detail.
  await page.waitForSelector('#done tbody tr.click')
  await page.click('#done tbody tr.click')
  await page.waitForFunction("document.getElementById('detail').textContent.includes('\"marker\"')")
  await page.screenshot({
    path: path.join(repoRoot, 'test-artifacts', 'dashboard-chart.png'),
    fullPage: true,
  })
  run.child.kill('SIGTERM')
  await run.exited
})

test('dashboard health panel: the entity service shows down while it is down, and up again after', async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing`)
  const { run, base, gpu } = await slowRun(t, { LR_NER_ATTEMPTS: '3' }, 8000)
  const port = Number(new URL(gpu.url).port)
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
  t.after(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${base}/`)
  const state = "document.querySelector('#health-entity-service .state')"
  await page.waitForFunction(`${state} && ${state}.textContent === 'up'`)
  await run.waitForLine((l) => l.includes('"batch done"'))
  await gpu.close()
  await page.waitForFunction(`${state} && ${state}.textContent === 'down'`)
  const detail = (await page.textContent('#health-entity-service td:last-child')) ?? ''
  assert.match(detail, /since/, detail)
  const back = await startMockGpu({ port, capacity: 2, callMs: 50, over: 'queue' })
  t.after(() => back.close())
  await page.waitForFunction(`${state} && ${state}.textContent === 'up'`)
  await page.screenshot({
    path: path.join(repoRoot, 'test-artifacts', 'dashboard-health.png'),
    fullPage: true,
  })
  run.child.kill('SIGTERM')
  await run.exited
})

test('beyond loopback a token is required: none set exits 2; set, requests without it get 401', async (t) => {
  const bare = runCli(t, ['start', '--once', '--data-dir', tempDir(t)], { LR_HTTP: '0.0.0.0:0' })
  assert.equal((await bare.exited).code, 2)
  assert.match(bare.stderr, /LR_HTTP=0\.0\.0\.0:0 listens beyond this machine: set LR_HTTP_TOKEN/)

  const token = 'a-long-enough-token-123'
  const { run, base } = await slowRun(t, { LR_HTTP: '0.0.0.0:0', LR_HTTP_TOKEN: token })
  const local = base.replace('0.0.0.0', '127.0.0.1')
  assert.equal((await fetch(`${local}/status`)).status, 401)
  assert.equal((await fetch(`${local}/metrics?token=wrong`)).status, 401)
  assert.equal(
    (await fetch(`${local}/status`, { headers: { authorization: `Bearer ${token}` } })).status,
    200,
  )
  assert.equal((await fetch(`${local}/?token=${token}`)).status, 200)
  run.child.kill('SIGTERM')
  assert.equal((await run.exited).code, 0, run.stderr)
})
