import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import type { RowDataPacket } from 'mysql2/promise'
import pino from 'pino'
import lockfile from 'proper-lockfile'
import { defaults, type Settings } from '../../src/core/config.js'
import { Janitor, janitorOptions } from '../../src/ops/janitor.js'
import { encodeBatch } from '../../src/store/batch-file.js'
import { ensureLayout, type Layout, layoutOf, leftFile, newBatchId } from '../../src/store/layout.js'
import type { Marker } from '../../src/store/markers.js'
import { makeDocs, markerPath, readMarkers, runCli, tempDir, writeJsonl } from '../helpers.js'
import { freshDatabase } from '../services.js'

const STALE_MS = 60_000

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  })
  return Number(r.stdout)
}

function claimed(layout: Layout, pid: number, host = hostname()): string {
  const id = newBatchId()
  writeFileSync(leftFile(layout, id), encodeBatch(id, makeDocs(2)))
  const m: Marker = {
    state: 'claimed',
    host,
    pid,
    worker: 'w0',
    claim: id.slice(0, 8),
    claimedAt: new Date().toISOString(),
  }
  writeFileSync(markerPath(layout, id), JSON.stringify(m))
  return id
}

async function janitorFor(t: Parameters<typeof tempDir>[0]): Promise<{ layout: Layout; janitor: Janitor }> {
  const layout = layoutOf(tempDir(t))
  await ensureLayout(layout)
  return { layout, janitor: testJanitor(layout) }
}

function testJanitor(layout: Layout, settings: Partial<Settings> = {}): Janitor {
  const opts = janitorOptions(
    { ...defaults, staleMs: STALE_MS, ...settings },
    layout,
    pino({ level: 'silent' }),
  )
  return new Janitor({ ...opts, everyMs: 3_600_000 })
}

test('a claim whose owner pid is gone on this host is put back at once', async (t) => {
  const { layout, janitor } = await janitorFor(t)
  const dead = claimed(layout, deadPid())
  const alive = claimed(layout, process.ppid)
  const otherHost = claimed(layout, deadPid(), 'another-box')
  await janitor.sweep()
  assert.equal(existsSync(markerPath(layout, dead)), false, 'dead owner: put back')
  assert.equal(existsSync(markerPath(layout, alive)), true, 'live owner, fresh heartbeat: kept')
  assert.equal(existsSync(markerPath(layout, otherHost)), true, 'another host: judged by heartbeat only')
  assert.equal(existsSync(leftFile(layout, dead)), true, 'the batch stays in left/ to be claimed again')
})

test('a janitor lock left by a dead process is taken over at once, not after the lock goes stale', async (t) => {
  const { layout, janitor } = await janitorFor(t)
  // The lock as a janitor that was killed -9 a moment ago leaves it: fresh, owned by a dead pid.
  mkdirSync(path.join(layout.state, 'janitor'), { recursive: true })
  await lockfile.lock(path.join(layout.state, 'janitor'), {
    stale: 30_000,
    retries: 0,
    onCompromised: () => {},
  })
  writeFileSync(
    path.join(layout.state, 'janitor.owner'),
    JSON.stringify({ host: hostname(), pid: deadPid() }),
  )
  const id = claimed(layout, deadPid())
  await janitor.start()
  t.after(() => janitor.stop())
  assert.equal(existsSync(markerPath(layout, id)), false, 'the first sweep ran and put the claim back')
})

test('a live janitor keeps its lock: a second one does not sweep', async (t) => {
  const { layout, janitor } = await janitorFor(t)
  await janitor.start()
  t.after(() => janitor.stop())
  const second = testJanitor(layout)
  const id = claimed(layout, deadPid())
  await second.start()
  t.after(() => second.stop())
  assert.equal(existsSync(markerPath(layout, id)), true, 'the second janitor waits for the lock')
})

test('a live owner with a heartbeat older than LR_STALE_MS is put back (backdated mtime)', async (t) => {
  const { layout, janitor } = await janitorFor(t)
  const id = claimed(layout, process.ppid)
  const almost = new Date(Date.now() - STALE_MS + 5000)
  utimesSync(markerPath(layout, id), almost, almost)
  await janitor.sweep()
  assert.equal(existsSync(markerPath(layout, id)), true, 'younger than staleMs: kept')
  const old = new Date(Date.now() - STALE_MS - 1000)
  utimesSync(markerPath(layout, id), old, old)
  await janitor.sweep()
  assert.equal(existsSync(markerPath(layout, id)), false, 'older than staleMs: put back')
})

test('put back after its owner died, then dead again while alone: split in halves that carry the history; a single document alone is poison', async (t) => {
  const { layout, janitor } = await janitorFor(t)
  const id = claimed(layout, deadPid())
  await janitor.sweep()
  assert.equal(existsSync(markerPath(layout, id)), false, 'first death: put back, to run alone next')
  const history = JSON.parse(readFileSync(path.join(layout.attempts, `${id}.json`), 'utf8')) as {
    alone: boolean
  }[]
  assert.deepEqual(
    history.map((h) => h.alone),
    [false],
  )
  // It ran alone (as a worker marks it) and its process died again.
  const alone = (batch: string): void => {
    const m: Marker = {
      state: 'claimed',
      host: hostname(),
      pid: deadPid(),
      worker: 'w0',
      claim: 'x',
      claimedAt: '',
      alone: true,
    }
    writeFileSync(markerPath(layout, batch), JSON.stringify(m))
  }
  alone(id)
  await janitor.sweep()
  assert.equal(existsSync(leftFile(layout, id)), false, 'the original is gone once both halves exist')
  const halves = readdirSync(layout.left).map((f) => f.replace('.msgpack', ''))
  assert.equal(halves.length, 2)
  for (const h of halves) {
    const carried = JSON.parse(readFileSync(path.join(layout.attempts, `${h}.json`), 'utf8')) as unknown[]
    assert.equal(carried.length, 2, 'each half carries the history, so it runs alone too')
  }
  // A half of one document dies alone: that document is the poison.
  const half = halves[0] as string
  alone(half)
  await janitor.sweep()
  const dead = readdirSync(layout.dead).map((f) =>
    JSON.parse(readFileSync(path.join(layout.dead, f), 'utf8')),
  )
  assert.equal(dead.length, 1)
  assert.match(String(dead[0].reason), /LR_POISON/)
  assert.equal(dead[0].history.length, 3)
  assert.equal(existsSync(leftFile(layout, half)), false)
  assert.deepEqual(readdirSync(layout.bad), [], 'bad/ is only for files that do not decode')
})

test('kill -9 of start at 5 random moments of a 3,000-document run: every document exactly once in MySQL, nothing claimed', async (t) => {
  const db = await freshDatabase(t, 'jkill')
  const dir = tempDir(t)
  const input = path.join(dir, 'in.jsonl')
  writeJsonl(input, makeDocs(3000))
  const enq = runCli(t, ['enqueue', input, '--data-dir', dir, '--batch-size', '50'])
  assert.equal((await enq.exited).code, 0)
  const env = { LR_MYSQL_URL: db.url, LR_STALE_MS: '2000', LR_RECOGNIZER: 'builtin', LR_WORKERS: '2' }
  const doneAtKill: number[] = []
  for (let kill = 0; kill < 5; kill++) {
    const run = runCli(t, ['start', '--data-dir', dir], env)
    await run.waitForLine((l) => l.includes('"batch done"'))
    await new Promise((r) => setTimeout(r, Math.random() * 300))
    run.child.kill('SIGKILL')
    await run.exited
    doneAtKill.push([...readMarkers(dir).values()].filter((m) => m.state === 'done').length)
  }
  assert.ok(
    (doneAtKill[4] ?? 60) < 60,
    `every kill landed mid-run (done batches at each kill: ${doneAtKill})`,
  )
  const last = runCli(t, ['start', '--once', '--data-dir', dir], env)
  const { code } = await last.exited
  assert.equal(code, 0, last.stderr)
  const [[r]] = await db.pool.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n, COUNT(DISTINCT doc_id) AS d FROM doc_ent_map',
  )
  assert.deepEqual([Number(r?.n), Number(r?.d)], [3000, 3000])
  const markers = [...readMarkers(dir).values()]
  assert.equal(markers.filter((m) => m.state === 'claimed').length, 0)
  // A batch killed while it ran alone is split in halves (DESIGN: a crash is charged only to what
  // could have caused it), so there may be more than 60 done batches: together they hold every document.
  const done = markers.filter((m) => m.state === 'done')
  assert.ok(done.length >= 60, `${done.length} done batches`)
  assert.equal(
    done.reduce((n, m) => n + Number(m.docs ?? 0), 0),
    3000,
    'the done batches hold every document once',
  )
  const byId = readMarkers(dir)
  const pending = readdirSync(path.join(dir, 'left')).filter((f) => !byId.has(f.replace('.msgpack', '')))
  assert.deepEqual(pending, [], 'no batch left without a marker')
})

test('`janitor` alone keeps running and holds the lock; a second one says so in one line; SIGTERM stops it', async (t) => {
  const dir = tempDir(t)
  const first = runCli(t, ['janitor', '--data-dir', dir])
  for (let i = 0; i < 200 && !existsSync(path.join(dir, 'state', 'janitor.lock')); i++) {
    await new Promise((r) => setTimeout(r, 50))
  }
  await new Promise((r) => setTimeout(r, 300))
  assert.equal(first.child.exitCode, null, 'still running')
  const second = runCli(t, ['janitor', '--once', '--data-dir', dir])
  assert.equal((await second.exited).code, 0)
  const lines = second.stdout.filter((l) => l.includes('another janitor holds this data dir'))
  assert.equal(lines.length, 1)
  first.child.kill('SIGTERM')
  assert.equal((await first.exited).code, 0)
  assert.equal(existsSync(path.join(dir, 'state', 'janitor.lock')), false, 'lock released on stop')
})

test('a janitor stopped during its first sweep sets no timer: a `start --once` with nothing to do exits', async (t) => {
  const { janitor } = await janitorFor(t)
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const before = timers()
  // As `start` does: the first sweep runs beside the workers, and stop can come before it ends.
  const started = janitor.start()
  await janitor.stop()
  await started
  assert.equal(timers(), before, 'no interval left behind to keep the process up')
})

test('a claim left without its batch file (its owner died between removing the file and the marker) is removed; a live one is kept', async (t) => {
  const { layout, janitor } = await janitorFor(t)
  const orphan = claimed(layout, deadPid())
  rmSync(leftFile(layout, orphan))
  // A stale heartbeat from another host: its owner cannot be asked, but it is long silent.
  const silent = claimed(layout, 4242, 'other-host')
  rmSync(leftFile(layout, silent))
  const old = new Date(Date.now() - 10 * STALE_MS)
  utimesSync(markerPath(layout, silent), old, old)
  const live = claimed(layout, process.pid)
  rmSync(leftFile(layout, live))
  await janitor.start()
  await janitor.stop()
  assert.equal(existsSync(markerPath(layout, orphan)), false, 'owner dead: removed')
  assert.equal(existsSync(markerPath(layout, silent)), false, 'silent past LR_STALE_MS: removed')
  assert.equal(existsSync(markerPath(layout, live)), true, 'a live owner keeps its marker')
})
