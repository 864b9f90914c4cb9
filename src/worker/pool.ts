import { setMaxListeners } from 'node:events'
import { readFileSync, unlinkSync } from 'node:fs'
import { hostname } from 'node:os'
import type { Claim, Marker } from '../claim/marker.js'
import { ClaimQueue } from '../claim/queue.js'
import type { Settings } from '../config.js'
import { Janitor, janitorOptions } from '../janitor/janitor.js'
import { Releasers } from '../lifecycle/releasers.js'
import { sleep } from '../lifecycle/sleep.js'
import type { Logger } from '../log.js'
import { GpuCap } from '../pipeline/gpu-cap.js'
import { createMapper } from '../pipeline/mapper.js'
import type { PipelineDeps } from '../pipeline/process-batch.js'
import { createRecognizer } from '../pipeline/recognizer.js'
import type { PipelineObserver } from '../pipeline/types.js'
import { createSink } from '../sink/create.js'
import { writeFileAtomic } from '../spool/atomic.js'
import { ensureLayout, gpuStateFile, type Layout, layoutOf, markerFile } from '../spool/layout.js'
import { type LoopContext, type LoopStats, newLoopStats, runLoop } from './loop.js'

export type PoolState = 'created' | 'running' | 'stopping' | 'stopped'

export interface PoolOptions {
  settings: Settings
  log: Logger
  /** Exit the loops once nothing is pending or claimed. */
  untilDrained?: boolean
  /** Told what the pipeline does (metrics). */
  observer?: PipelineObserver
}

/**
 * N worker loops in one process sharing a claim queue, one recognizer and one
 * cap on recognition calls in flight. start() / stop() (idempotent): stop
 * claims nothing new, lets in-flight batches finish for shutdownGraceMs, then
 * gives back what did not finish.
 */
const GPU_STATE_EVERY_MS = 1000

export class WorkerPool {
  state: PoolState = 'created'
  readonly stats: LoopStats = newLoopStats()
  readonly layout: Layout
  readonly startedAt = Date.now()
  private readonly opts: PoolOptions
  private readonly stopController = new AbortController()
  private readonly hardController = new AbortController()
  private readonly held = new Set<Claim>()
  private readonly releasers = new Releasers()
  private loops: Promise<void> = Promise.resolve()
  private stopping: Promise<void> | null = null
  queue: ClaimQueue | null = null
  gpuCap: GpuCap | null = null

  constructor(opts: PoolOptions) {
    this.opts = opts
    this.layout = layoutOf(opts.settings.dataDir)
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new Error(`pool cannot start from state ${this.state}`)
    const { settings, log } = this.opts
    // Every loop waits on these two signals (and the AbortSignal.any of each batch): not a leak.
    setMaxListeners(settings.workers * 4 + 10, this.stopController.signal, this.hardController.signal)
    await ensureLayout(this.layout)
    const recognizer = createRecognizer(settings)
    this.releasers.push('recognizer', () => recognizer.close())
    const sink = createSink(settings, this.layout, log.child({ component: 'sink' }))
    await sink.init()
    this.releasers.push('sink', () => sink.close())
    // After the sink: its init waits for MySQL to come up.
    const mapper = createMapper(settings, log.child({ component: 'mapper' }))
    await mapper.init()
    this.releasers.push('mapper', () => mapper.close())
    const queue = new ClaimQueue({
      layout: this.layout,
      log: log.child({ component: 'claim' }),
      rescanMs: settings.rescanMs,
    })
    await queue.start()
    this.releasers.push('queue', () => queue.stop())
    this.queue = queue
    // The janitor puts back claims whose worker died, so this pool (and --once) never waits on them forever.
    const janitor = new Janitor({
      ...janitorOptions(settings, this.layout, log),
      onRequeue: () => void queue.refresh().then(() => queue.wake()),
    })
    await janitor.start()
    this.releasers.push('janitor', () => janitor.stop())
    const gpuCap = new GpuCap({ max: settings.gpuConcurrency })
    this.gpuCap = gpuCap
    // state/gpu.json: the cap's current limit and calls in flight, for `status`.
    const gpuTimer = setInterval(() => {
      const state = { host: hostname(), pid: process.pid, at: new Date().toISOString(), ...gpuCap.snapshot() }
      writeFileAtomic(gpuStateFile(this.layout), `${JSON.stringify(state)}\n`).catch(() => {})
    }, GPU_STATE_EVERY_MS)
    gpuTimer.unref()
    this.releasers.push('gpu-state', () => clearInterval(gpuTimer))

    const deps: PipelineDeps = {
      layout: this.layout,
      recognizer,
      gpuCap: this.gpuCap,
      mapper,
      sink,
      log: log.child({ component: 'pipeline' }),
      docsPerCall: settings.nerDocsPerCall,
      recognizeAttempts: settings.nerAttempts,
      ...(this.opts.observer ? { observer: this.opts.observer } : {}),
    }
    const ctx: LoopContext = {
      deps,
      queue,
      log: log.child({ component: 'worker' }),
      stopSignal: this.stopController.signal,
      hardSignal: this.hardController.signal,
      heartbeatMs: Math.min(settings.heartbeatMs, Math.max(10, Math.floor(settings.staleMs / 4))),
      badGraceMs: settings.badGraceMs,
      archiveDays: settings.archiveDays,
      untilDrained: this.opts.untilDrained ?? false,
      held: this.held,
      stats: this.stats,
    }
    const loops: Promise<void>[] = []
    for (let i = 0; i < settings.workers; i++) loops.push(runLoop(ctx, `w${i}`))
    this.loops = Promise.all(loops).then(() => {})
    this.state = 'running'
    log.info(
      {
        workers: settings.workers,
        gpuConcurrency: settings.gpuConcurrency,
        recognizer: recognizer.kind,
        sink: sink.kind,
        mapping: mapper.kind,
      },
      'workers started',
    )
  }

  /** Resolves when every loop has returned (drained with --once, or stopped). */
  whenIdle(): Promise<void> {
    return this.loops
  }

  /** Idempotent; safe to call again while stopping. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop()
    return this.stopping
  }

  private async doStop(): Promise<void> {
    this.state = 'stopping'
    this.stopController.abort()
    const graceMs = this.opts.settings.shutdownGraceMs
    if (this.held.size > 0)
      this.opts.log.info({ inFlight: this.held.size, graceMs }, 'letting in-flight batches finish')
    const grace = new AbortController()
    await Promise.race([this.loops, sleep(graceMs, grace.signal)])
    grace.abort()
    this.hardController.abort()
    await this.loops
    await this.releasers.release()
    this.state = 'stopped'
  }

  /** For a forced exit: give back every claim held, synchronously. */
  releaseHeldSync(): number {
    let n = 0
    for (const claim of this.held) {
      try {
        const file = markerFile(this.layout, claim.id)
        const current = JSON.parse(readFileSync(file, 'utf8')) as Marker
        if (current.claim === claim.marker.claim && current.state === 'claimed') {
          unlinkSync(file)
          n++
        }
      } catch {
        // Gone or unreadable: nothing to give back.
      }
    }
    return n
  }
}
