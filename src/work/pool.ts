import { setMaxListeners } from 'node:events'
import type { Service } from '../core/contracts.js'
import type { Logger } from '../core/log.js'
import { sleep } from '../core/sleep.js'
import type { Claim } from '../store/markers.js'
import { dropSpares } from '../store/spares.js'
import type { ClaimQueue } from './claim-queue.js'
import { type LoopContext, type LoopStats, newLoopStats, runLoop } from './loop.js'
import type { PipelineDeps } from './process-batch.js'
import { SoloGate } from './solo-gate.js'

export type PoolState = 'created' | 'running' | 'stopping' | 'stopped'

export interface PoolOptions {
  /** The recognizer, cap, mapper and sink the loops share (built and released by the command's wiring). */
  deps: PipelineDeps
  queue: ClaimQueue
  log: Logger
  workers: number
  heartbeatMs: number
  badGraceMs: number
  archiveDays: number
  /** After stop(), in-flight batches get this long to finish before they are given back. */
  shutdownGraceMs: number
  /** Exit the loops once nothing is pending or claimed. */
  untilDrained?: boolean
}

/**
 * N worker loops in one process sharing a claim queue, one recognizer and one
 * cap on recognition calls in flight. start() / stop() (idempotent): stop
 * claims nothing new, lets in-flight batches finish for shutdownGraceMs, then
 * gives back what did not finish.
 */
export class WorkerPool implements Service {
  state: PoolState = 'created'
  readonly stats: LoopStats = newLoopStats()
  private readonly stopController = new AbortController()
  private readonly hardController = new AbortController()
  private readonly held = new Set<Claim>()
  private loops: Promise<void> = Promise.resolve()
  private stopping: Promise<void> | null = null
  /** The permanent error that stopped the loops, if one did. */
  fatal: Error | null = null

  constructor(private readonly opts: PoolOptions) {}

  get queue(): ClaimQueue {
    return this.opts.queue
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new Error(`pool cannot start from state ${this.state}`)
    const o = this.opts
    // Every loop waits on these two signals (and each batch follows the hard one): not a leak.
    setMaxListeners(o.workers * 4 + 10, this.stopController.signal, this.hardController.signal)
    const ctx: LoopContext = {
      deps: o.deps,
      queue: o.queue,
      log: o.log,
      stopSignal: this.stopController.signal,
      hardSignal: this.hardController.signal,
      heartbeatMs: o.heartbeatMs,
      badGraceMs: o.badGraceMs,
      archiveDays: o.archiveDays,
      untilDrained: o.untilDrained ?? false,
      held: this.held,
      gate: new SoloGate(),
      onFatal: (err) => {
        if (this.fatal) return
        this.fatal = err
        // No new claims; batches in flight finish or are given back.
        this.stopController.abort()
      },
      stats: this.stats,
    }
    const loops: Promise<void>[] = []
    for (let i = 0; i < o.workers; i++) loops.push(runLoop(ctx, `w${i}`))
    this.loops = Promise.all(loops).then(() => {})
    this.state = 'running'
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
    const graceMs = this.opts.shutdownGraceMs
    if (this.held.size > 0)
      this.opts.log.info({ inFlight: this.held.size, graceMs }, 'letting in-flight batches finish')
    const grace = new AbortController()
    await Promise.race([this.loops, sleep(graceMs, grace.signal)])
    grace.abort()
    this.hardController.abort()
    await this.loops
    // Nothing claims here any more: the spare inodes kept for claims go (store/spares.ts).
    dropSpares(this.opts.deps.layout)
    this.state = 'stopped'
  }

  /** For a forced exit: give back every claim held, synchronously. */
  releaseHeldSync(): number {
    let n = 0
    for (const claim of this.held) if (claim.releaseSync()) n++
    return n
  }
}
