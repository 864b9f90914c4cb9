import type { Settings } from '../core/config.js'
import type { Mapper, PipelineObserver, Recognizer, Sink } from '../core/contracts.js'
import { AbortedError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { Outages } from '../core/outages.js'
import type { Releasers } from '../core/releasers.js'
import { retry } from '../core/retry.js'
import { sleep } from '../core/sleep.js'
import { createMapper } from '../map/create.js'
import { rememberedLimit, writeGpuStateEverySecond } from '../ops/gpu-state.js'
import { Janitor, janitorOptions } from '../ops/janitor.js'
import { checkRecognizerSettings, createGpuThread, createRecognizer } from '../recognize/create.js'
import { type CallCap, GpuCap, type GpuCapOptions } from '../recognize/gpu-cap.js'
import { createSink } from '../sink/create.js'
import { ensureLayout, layoutOf } from '../store/layout.js'
import { ClaimQueue } from '../work/claim-queue.js'
import { WorkerPool } from '../work/pool.js'

/**
 * Slow start's step: before the entity service's first answer it adds a call this often, and
 * after it no faster. Its refusals over capacity (resets, 503s) come back within a few ms; a call
 * takes tens of ms or more, and waiting for answers kept all but one or two slots idle for two or
 * three calls' time (bench/RESULTS.md, thirteenth session), where raising at every answer sent
 * one more call to be refused per answer that came in while a refusal was on its way
 * (seventeenth session).
 */
const SLOW_START_STEP_MS = 10

/** The sink, its calls held until `ready` (which rejects with the sink's loading or preparation error). */
function sinkAfter(ready: Promise<Sink>): Pick<Sink, 'write' | 'recordFailures'> {
  return {
    write: async (batchId, results) => (await ready).write(batchId, results),
    recordFailures: async (failures) => (await ready).recordFailures(failures),
  }
}

/**
 * The recognizer, its calls held until `ready` (its module and threads load after the first
 * claims). If it fails to load, start-up stops with that error, and the calls wait to be
 * aborted by the stop: a document is never set aside for it.
 */
function recognizerAfter(kind: string, ready: Promise<Recognizer>): Pick<Recognizer, 'kind' | 'recognize'> {
  const loaded = (signal: AbortSignal): Promise<Recognizer> =>
    ready.catch(async () => {
      await sleep(2 ** 31 - 1, signal)
      throw new AbortedError('the recognizer did not load')
    })
  return {
    kind,
    recognize: async (docs, signal) => (await loaded(signal)).recognize(docs, signal),
  }
}

/** The mapper, its look-ups held until `ready`. */
function mapperAfter(ready: Promise<Mapper>): Pick<Mapper, 'lookupMany'> {
  return { lookupMany: async (surfaces) => (await ready).lookupMany(surfaces) }
}

/**
 * The one place that builds the worker side of a process: recognizer, sink,
 * mapper, claim queue, janitor, GPU cap and the pool, each released in reverse
 * by `releasers` (so a failure half-way releases what was built).
 */
export async function startWorkers(opts: {
  settings: Settings
  log: Logger
  releasers: Releasers
  untilDrained: boolean
  observer?: PipelineObserver
  /** Aborted when the process is asked to stop (while it waits for MySQL, say). */
  signal: AbortSignal
}): Promise<{ pool: WorkerPool; gpuCap: CallCap; outages: Outages }> {
  const { settings, log, releasers } = opts
  const outages = new Outages(log.child({ component: 'health' }))
  // Where start-up time goes (ms since the process began), in the "workers started" line.
  const startup: Record<string, number> = {}
  const mark = (step: string): void => {
    startup[step] = Math.round(performance.now())
  }
  mark('begin')
  checkRecognizerSettings(settings)
  const layout = layoutOf(settings.dataDir)
  await ensureLayout(layout)
  // Start where an earlier run found the service's capacity, else start slow and grow until the
  // first refusal: a cap far above the capacity then costs one refused call, not a burst. Until
  // the service first answers, the limit grows by one every SLOW_START_STEP_MS it is in use
  // (and no faster after it, so a refused raise comes back before the next).
  const service = settings.recognizer === 'http' ? settings.nerUrl : null
  const learned = await rememberedLimit(layout, service, settings.gpuRememberMs)
  const capOptions: GpuCapOptions =
    learned !== null
      ? { max: settings.gpuConcurrency, start: learned }
      : service
        ? { max: settings.gpuConcurrency, start: 1, slowStart: true, slowStartStepMs: SLOW_START_STEP_MS }
        : { max: settings.gpuConcurrency, start: settings.gpuConcurrency, slowStart: true }
  // The service's calls and their cap run in a thread of their own (it starts with the first call).
  const gpuThread = service
    ? await createGpuThread(settings, capOptions, (err) =>
        log.error({ err }, 'the entity service client thread died; a new one starts with the next call'),
      )
    : null
  const gpuCap: CallCap = gpuThread ?? new GpuCap(capOptions)
  // The recognizer's, the sink's and the mapping's modules (mysql2: ~0.1 s of loading on the main
  // thread; piscina and its threads) load, and the tables are prepared, once the workers have
  // taken their first claims: the workers read meanwhile, and recognising and storing wait for
  // them (recognizerAfter, sinkAfter).
  let wanted = false
  let loadParts: () => void = () => {}
  const partsWanted = new Promise<void>((resolve) => {
    loadParts = () => {
      wanted = true
      resolve()
    }
  })
  /** A part loaded once wanted, closed by `releasers` (never loaded when start-up failed first: nothing to close). */
  const afterClaims = <T extends { close(): Promise<void> }>(
    name: string,
    load: () => Promise<T>,
  ): Promise<T> => {
    const loaded = partsWanted.then(load)
    // Its failure is reported where start-up awaits it (below), not as an unhandled rejection.
    loaded.catch(() => {})
    releasers.push(name, async () => {
      if (wanted) await loaded.then((part) => part.close()).catch(() => {})
    })
    return loaded
  }
  const sinkLoaded = afterClaims('sink', () => createSink(settings, layout, log.child({ component: 'sink' })))
  const mapperLoaded = afterClaims('mapper', () => createMapper(settings, log.child({ component: 'mapper' })))
  const recognizerLoaded = afterClaims('recognizer', async () => {
    const r = await createRecognizer(settings, gpuThread)
    mark('recognizerReady')
    return r
  })
  // The mapping's table is prepared beside the sink's (both may be MySQL: two round trips at
  // once, not one after the other). If MySQL is away at start, it is prepared again below,
  // once the sink has reached it.
  const mapperReady = mapperLoaded
    .then((mapper) => mapper.init())
    .then(
      () => null,
      (err: unknown) => err,
    )
  // A service waits for its database: one line when it is unreachable, one when it is back.
  // Resolves to the sink once it is ready.
  const sinkReady = sinkLoaded.then(async (sink) => {
    await retry(
      'preparing the sink',
      () => sink.init(),
      {
        attempts: Number.POSITIVE_INFINITY,
        baseMs: 500,
        capMs: 10_000,
        maxExponent: 6,
        onRetry: ({ err }) => outages.failed('sink', err, 'claimed batches wait for it'),
      },
      opts.signal,
    )
    outages.ok('sink')
    mark('sinkReady')
    return sink
  })
  // If MySQL was away at start, the mapping's table is prepared again once the sink has reached it.
  const mappingReady = sinkReady.then(async () => {
    const mapper = await mapperLoaded
    if ((await mapperReady) !== null) await mapper.init()
    mark('mappingReady')
    return mapper
  })
  // Their failures are reported where start-up awaits them (below), not as unhandled rejections.
  sinkReady.catch(() => {})
  mappingReady.catch(() => {})
  const sink = sinkAfter(sinkReady)
  const mapper = mapperAfter(mappingReady)
  const recognizer = recognizerAfter(settings.recognizer, recognizerLoaded)
  const queue = new ClaimQueue({
    layout,
    log: log.child({ component: 'claim' }),
    rescanMs: settings.rescanMs,
    // Draining what is there (`--once` from files) needs no watch: the loops rescan when they run
    // out, every 100 ms while an enqueue still writes. The watch of the last batches (an fs.watch
    // and an lstat per file, events for each one we retire) cost ~0.1 s of a 2,000-batch run.
    watch: !opts.untilDrained,
  })
  releasers.push('queue', () => queue.stop())
  await queue.start()
  mark('queueReady')
  // The janitor puts back claims whose worker died, so the pool (and --once) never waits on them forever.
  const janitor = new Janitor(
    janitorOptions(settings, layout, log, {
      onRequeue: () => queue.refreshAndWake(),
      outages,
      // The janitor's first sweep runs before the workers, and may record a poison document:
      // the sink is loaded now for it (it would otherwise wait for the workers: a deadlock).
      onPoison: (failure) => {
        loadParts()
        return sink.recordFailures([failure]).catch((err: unknown) => {
          log.error(
            { err, doc: failure.doc_id },
            'recording a poison document in the failures table failed; it is in dead/',
          )
        })
      },
    }),
  )
  releasers.push('janitor', () => janitor.stop())
  // Its first sweep puts back dead claims (and splits or sets aside suspects) before the workers'
  // first calls, so a crash they cause is not charged to that work; the slower housekeeping
  // (reading every done marker) follows beside the workers.
  await janitor.start({ claimsFirst: true })
  if (learned !== null)
    log.info({ limit: learned, service }, 'GPU limit learned by an earlier run; starting there')
  releasers.push(
    'gpu-state',
    writeGpuStateEverySecond(layout, gpuCap, outages, log, { service, startedLearned: learned !== null }),
  )
  const pool = new WorkerPool({
    deps: {
      layout,
      recognizer,
      gpuCap,
      // The workers claim, read and recognise while the database is being prepared; storing waits for it.
      mapper,
      sink,
      log: log.child({ component: 'pipeline' }),
      docsPerCall: settings.nerDocsPerCall,
      recognizeAttempts: settings.nerAttempts,
      outages,
      ...(opts.observer ? { observer: opts.observer } : {}),
    },
    queue,
    log: log.child({ component: 'worker' }),
    workers: settings.workers,
    heartbeatMs: Math.min(settings.heartbeatMs, Math.max(10, Math.floor(settings.staleMs / 4))),
    badGraceMs: settings.badGraceMs,
    archiveDays: settings.archiveDays,
    shutdownGraceMs: settings.shutdownGraceMs,
    untilDrained: opts.untilDrained,
  })
  releasers.push('pool', () => pool.stop())
  try {
    await pool.start()
  } finally {
    loadParts()
  }
  mark('workersStarted')
  // A recognizer that cannot load stops start-up here, before anything waits on the database.
  await recognizerLoaded
  // A table that does not fit (say) stops here with its one line; the releasers give the claims back.
  const { kind: sinkKind } = await sinkReady
  const { kind: mappingKind } = await mappingReady
  log.info(
    {
      workers: settings.workers,
      gpuConcurrency: settings.gpuConcurrency,
      recognizer: recognizer.kind,
      sink: sinkKind,
      mapping: mappingKind,
      startupMs: startup,
    },
    'workers started',
  )
  return { pool, gpuCap, outages }
}
