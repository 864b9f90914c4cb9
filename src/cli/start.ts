import { accessSync, constants, statSync } from 'node:fs'
import { loadSettings, sourceOf } from '../core/config.js'
import { AbortedError, ConfigError, UsageError } from '../core/errors.js'
import { createLogger } from '../core/log.js'
import { Outages } from '../core/outages.js'
import { Releasers } from '../core/releasers.js'
import { installSignals } from '../core/signals.js'
import type { EnqueueEnd, EnqueueThread } from '../feed/enqueue-thread.js'
import type { Prefetcher } from '../feed/prefetcher.js'
import type { Source } from '../feed/source.js'
import { ObserverRelay } from '../ops/observer-relay.js'
import type { CallCap } from '../recognize/gpu-cap.js'
import { ensureLayout, type Layout, layoutOf } from '../store/layout.js'
import { readMarker } from '../store/markers.js'
import { markedIds, pendingIds, scanSpool } from '../store/scan.js'
import { registerWriter } from '../store/writers.js'
import type { WorkerPool } from '../work/pool.js'
import { startProgress } from '../work/progress.js'
import type { ParsedArgs } from './args.js'
import { seedSample } from './sample.js'
import { startWorkers } from './wiring.js'

export type Role = 'start' | 'work' | 'prefetch'

/** `start`, `work` and `prefetch`: the composition root of a long-running process. */
export async function runStart(args: ParsedArgs, opts: { role: Role }): Promise<number> {
  const settings = loadSettings(args.flags)
  const once = args.flags.once === true
  const log = createLogger(settings)
  const useSource = opts.role !== 'work' && sourceOf(settings) !== null
  if (opts.role === 'prefetch' && !useSource) {
    throw new ConfigError('prefetch needs a source: LR_KAFKA_BROKERS, LR_REDIS_URL or LR_AMQP_URL')
  }
  const files = args.positionals
  if (files.length > 0) checkFiles(files, useSource)
  const releasers = new Releasers()
  const layout = layoutOf(settings.dataDir)
  await ensureLayout(layout)
  if (opts.role === 'start' && files.length === 0) await seedSample(settings, layout, log)

  let pool: WorkerPool | null = null
  // `start FILE...`: a thread enqueues the files from the outset; the ids it writes before the
  // workers' queue exists wait here (the queue's first scan finds them too).
  let enqueuer: EnqueueThread | null = null
  let enqueueEnd: EnqueueEnd | null = null
  const early: string[] = []
  if (files.length > 0) {
    // Registered here, before the thread starts: `--once` cannot see left/ drained before it begins.
    // The one entry for the command: it carries the thread's progress.
    const writer = registerWriter(layout, 'start: enqueue')
    const { EnqueueThread } = await import('../feed/enqueue-thread.js')
    const t = new EnqueueThread(
      {
        files,
        dataDir: settings.dataDir,
        batchSize: settings.batchSize,
        maxTextBytes: settings.maxTextBytes,
        minFreeDisk: settings.minFreeDisk,
        logLevel: settings.logLevel,
      },
      {
        log: log.child({ component: 'enqueue' }),
        onBatch: (id) => (pool ? pool.queue.offer(id) : early.push(id)),
        onProgress: (progress) => writer.report(progress),
      },
    )
    enqueuer = t
    void t.ended.then((end) => {
      enqueueEnd = end
      writer.release()
      if (end.kind === 'failed') log.error({ component: 'enqueue' }, `enqueue failed: ${end.message}`)
      else if (end.result === null) log.warn({ component: 'enqueue' }, 'enqueue stopped part way')
      else
        log.info(
          { component: 'enqueue', ...end.result },
          `${end.kind === 'stopped' ? 'enqueue stopped part way: ' : ''}enqueued ${end.result.docs} documents in ${end.result.batches} batches (${end.result.dead} lines set aside in dead/)`,
        )
      pool?.queue.wake()
    })
    releasers.push('enqueue', () => t.stop())
    await t.start()
  }
  let gpuCap: CallCap | null = null
  let prefetcher: Prefetcher | null = null
  let source: Source | null = null
  let outages = new Outages(log.child({ component: 'health' }))
  // The enqueue thread stops beside the rest: the workers make no new claim meanwhile.
  const stopAll = async (): Promise<void> => {
    await Promise.all([
      enqueuer?.stop(),
      (async () => {
        await prefetcher?.stop()
        await pool?.stop()
      })(),
    ])
  }
  const stopping = new AbortController()
  const signals = installSignals({
    log,
    onStop: async () => {
      stopping.abort()
      await stopAll()
    },
    onForce: () => pool?.releaseHeldSync() ?? 0,
  })
  releasers.push('signals', () => signals.dispose())
  // The dashboard and /metrics come up once the workers have started, so loading them does not
  // hold up the first claims; or after a second if the workers wait (MySQL down at start: the
  // dashboard then shows that).
  const relay = new ObserverRelay()
  let httpStarted: Promise<void> | null = null
  const startHttp = (): Promise<void> => {
    httpStarted ??= (async () => {
      if (!settings.http) return
      const [{ Metrics }, { StatusServer }, { cachedStatus }] = await Promise.all([
        import('../ops/metrics.js'),
        import('../ops/http-server.js'),
        import('../ops/status.js'),
      ])
      const status = cachedStatus(layout, { staleMs: settings.staleMs, minFreeDisk: settings.minFreeDisk })
      const metrics = new Metrics({
        status,
        gpu: () => gpuCap?.snapshot() ?? null,
        sourceLag: async () => (source ? { kind: source.kind, ...(await source.lag()) } : null),
      })
      relay.attach(metrics)
      const server = new StatusServer({
        listen: settings.http,
        token: settings.httpToken,
        status,
        metrics,
        layout,
        log: log.child({ component: 'http' }),
      })
      releasers.push('http', () => server.stop())
      await server.start()
    })().catch((err: unknown) =>
      log.error({ err }, 'status HTTP server not started; the pool goes on without it'),
    )
    return httpStarted
  }
  const httpTimer = setTimeout(() => void startHttp(), 1000)
  try {
    // Workers and the janitor first: they work on what is in left/ while the consumer joins its
    // group, which after a crash can take the whole session timeout.
    if (opts.role !== 'prefetch') {
      // With a source, the pool must not stop at an empty left/: more may be on its way.
      let workers: Awaited<ReturnType<typeof startWorkers>>
      try {
        workers = await startWorkers({
          settings,
          log,
          releasers,
          signal: stopping.signal,
          untilDrained: once && !useSource,
          ...(settings.http ? { observer: relay } : {}),
        })
      } catch (err) {
        // Stopped while waiting for a dependency (MySQL down at start): a clean stop, not a failure.
        if (err instanceof AbortedError && stopping.signal.aborted) return 0
        throw err
      }
      pool = workers.pool
      for (const id of early.splice(0)) workers.pool.queue.offer(id)
      gpuCap = workers.gpuCap
      outages = workers.outages
      releasers.push(
        'progress',
        startProgress(workers.pool, log, workers.outages, { input: () => enqueuer?.progress ?? null }),
      )
    }
    clearTimeout(httpTimer)
    await startHttp()
    let caughtUp: (() => Promise<boolean>) | null = null
    // The source's modules (and the prefetcher's) load only when a source is set.
    const made = useSource
      ? await (await import('../feed/create-source.js')).createSource(settings, log, outages)
      : null
    if (made) {
      const { Prefetcher } = await import('../feed/prefetcher.js')
      source = made.source
      releasers.push('source client', made.close)
      if (once) caughtUp = await made.source.drainedCheck()
      const p = new Prefetcher(settings, layout, made.source, log.child({ component: 'prefetch' }), outages)
      prefetcher = p
      releasers.push('prefetcher', () => p.stop())
      await p.start()
    }
    if (once && caughtUp) {
      const check = caughtUp
      const queue = pool?.queue ?? null
      await waitUntil(
        signals.stopped,
        async () => pool?.fatal != null || ((await check()) && (queue ? await queue.isDrained() : true)),
      )
    } else if (pool) {
      // Without --once the loops end only when stopped, or on a permanent error.
      await Promise.race([pool.whenIdle(), signals.stopped])
    } else {
      await signals.stopped
    }
    await stopAll()
  } finally {
    clearTimeout(httpTimer)
    // A server still starting (its modules loading) is stopped once it has started.
    await httpStarted
    await releasers.release()
  }
  if (pool?.fatal) {
    log.error({ err: pool.fatal }, `workers stopped: ${pool.fatal.message}`)
    return 1
  }
  const enqueueFailed = (enqueueEnd as EnqueueEnd | null)?.kind === 'failed'
  // The last line says what happened, truthfully: drained only when nothing was left.
  const left = await leftOver(layout)
  const drained =
    once && !signals.wasSignalled && !enqueueFailed && left.pendingBatches === 0 && left.claimedBatches === 0
  const s = pool?.stats
  log.info(
    {
      batches: s?.batchesDone ?? 0,
      docs: (s?.docsOk ?? 0) + (s?.docsFailed ?? 0),
      dead: s?.docsFailed ?? 0,
      bad: s?.batchesBad ?? 0,
      ...left,
      ...(prefetcher ? { prefetched: prefetcher.stats.messages, deadMessages: prefetcher.stats.dead } : {}),
      ...(gpuCap ? { gpu: gpuCap.snapshot() } : {}),
    },
    drained
      ? 'drained: nothing pending or claimed; exiting'
      : `stopped: ${left.pendingBatches} batches left pending, ${left.claimedBatches} claimed`,
  )
  // The files were not all enqueued: the job is not done, whatever the workers did.
  return enqueueFailed ? 1 : 0
}

/** `start FILE...`: files this process can read, and no source beside them (one source per process). */
function checkFiles(files: string[], useSource: boolean): void {
  if (useSource) {
    throw new ConfigError(
      'start FILE... takes its documents from the files: unset the source (LR_KAFKA_BROKERS, LR_REDIS_URL or LR_AMQP_URL) or give no files',
    )
  }
  // A pipe may stall with its writer open, and a read of it cannot be cut short: a stop would
  // hang. `enqueue` reads them, and `start --once` beside it waits for it.
  const pipe = 'start reads regular files; for standard input or a pipe: leftright enqueue, beside start'
  for (const file of files) {
    if (file === '-') throw new UsageError(pipe)
    try {
      accessSync(file, constants.R_OK)
    } catch (err) {
      throw new UsageError(
        `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      )
    }
    if (!statSync(file).isFile()) throw new UsageError(`${file}: ${pipe}`)
  }
}

/** Batches still waiting in left/ (pending), and those claimed (by another process) at the end. */
async function leftOver(layout: Layout): Promise<{ pendingBatches: number; claimedBatches: number }> {
  const scan = await scanSpool(layout)
  let claimedBatches = 0
  for (const id of markedIds(scan)) if ((await readMarker(layout, id))?.state === 'claimed') claimedBatches++
  return { pendingBatches: pendingIds(scan).length, claimedBatches }
}

/** Poll `done` every half second until it says yes or a stop signal arrives. */
async function waitUntil(stopped: Promise<void>, done: () => Promise<boolean>): Promise<void> {
  let stop = false
  void stopped.then(() => {
    stop = true
  })
  while (!stop) {
    if (await done()) return
    await new Promise((r) => setTimeout(r, 500))
  }
}
