import { readdir } from 'node:fs/promises'
import { type FSWatcher, watch } from 'chokidar'
import type { Logger } from '../log.js'
import { classifyLeftName, type Layout } from '../spool/layout.js'
import { type Claim, readMarker, tryClaim } from './marker.js'
import { RandomSet } from './random-set.js'

export interface ClaimQueueOptions {
  layout: Layout
  log: Logger
  /** Full rescan period: watch events can be missed (rsync'd or network folders). */
  rescanMs: number
  /** Watch left/ with chokidar for new files (off in tests that want rescans only). */
  watch?: boolean
}

/**
 * The process's view of claimable batches, shared by all its worker loops.
 * Candidates come from a rescan (left/ minus right/) and from chokidar `add`
 * events; a worker picks one at random and claims it with `wx`. Losing the
 * race (EEXIST) only drops that candidate. A claim is the marker on disk, never
 * this cache, so several processes on one data dir stay correct.
 */
export class ClaimQueue {
  private readonly opts: ClaimQueueOptions
  private readonly candidates = new RandomSet()
  /** Batches put back by this process that must wait until a time (young corrupt files, failed sinks). */
  private readonly deferred = new Map<string, number>()
  private readonly warnedNames = new Set<string>()
  private readonly waiters = new Set<() => void>()
  private watcher: FSWatcher | null = null
  private timer: NodeJS.Timeout | null = null
  private refreshing: Promise<void> | null = null
  private lastRefreshAt = 0
  /** Snapshot from the last rescan, for status and `--once`. */
  lastScan = { left: 0, pending: 0, at: 0 }

  constructor(opts: ClaimQueueOptions) {
    this.opts = opts
  }

  async start(): Promise<void> {
    await this.refresh()
    if (this.opts.watch !== false) {
      this.watcher = watch(this.opts.layout.left, { ignoreInitial: true, depth: 0 })
      this.watcher.on('add', (file: string) => this.onAdd(file))
      this.watcher.on('error', (err: unknown) =>
        this.opts.log.warn({ err }, 'watch error; relying on rescans'),
      )
    }
    this.timer = setInterval(() => {
      void this.refresh().then(() => this.wake())
    }, this.opts.rescanMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    const watcher = this.watcher
    this.watcher = null
    await watcher?.close()
    this.wake()
  }

  private onAdd(file: string): void {
    const name = file.slice(file.lastIndexOf('/') + 1)
    const c = classifyLeftName(name)
    if (c.kind !== 'batch') return
    this.candidates.add(c.id)
    this.wake()
  }

  /** Wake waiting loops (a batch finished or was put back: drained-ness may have changed). */
  wake(): void {
    for (const w of this.waiters) w()
    this.waiters.clear()
  }

  /** Rescan left/ and right/. Concurrent callers share one scan. */
  refresh(): Promise<void> {
    this.refreshing ??= this.scan().finally(() => {
      this.refreshing = null
    })
    return this.refreshing
  }

  private async scan(): Promise<void> {
    const { layout, log } = this.opts
    const [leftNames, rightNames] = await Promise.all([readdir(layout.left), readdir(layout.right)])
    const claimed = new Set(rightNames)
    this.candidates.clear()
    let left = 0
    for (const name of leftNames) {
      const c = classifyLeftName(name)
      if (c.kind === 'invalid') {
        if (!this.warnedNames.has(name)) {
          this.warnedNames.add(name)
          log.warn({ file: `left/${name}` }, 'ignoring file: name is not <short-uuid>.msgpack')
        }
        continue
      }
      if (c.kind !== 'batch') continue
      left++
      if (!claimed.has(c.id)) this.candidates.add(c.id)
    }
    this.lastScan = { left, pending: this.candidates.size, at: Date.now() }
    this.lastRefreshAt = Date.now()
  }

  /** Put a batch back into consideration no earlier than `notBeforeMs` from now. */
  defer(id: string, delayMs: number): void {
    this.deferred.set(id, Date.now() + delayMs)
    const t = setTimeout(() => {
      this.candidates.add(id)
      this.wake()
    }, delayMs + 1)
    t.unref()
  }

  private isDeferred(id: string): boolean {
    const until = this.deferred.get(id)
    if (until === undefined) return false
    if (Date.now() >= until) {
      this.deferred.delete(id)
      return false
    }
    return true
  }

  /** Batches known here that are waiting (including deferred ones). */
  get pendingEstimate(): number {
    return this.candidates.size + this.deferred.size
  }

  /** Try to claim one candidate. Returns null when none could be claimed right now. */
  async claimOne(worker: string): Promise<Claim | null> {
    for (;;) {
      const id = this.candidates.pick()
      if (id === undefined) return null
      this.candidates.delete(id)
      if (this.isDeferred(id)) continue
      const claim = await tryClaim(this.opts.layout, id, worker)
      if (claim) return claim
    }
  }

  /**
   * Wait for a claim. Resolves null when `signal` aborts, or (with `untilDrained`)
   * once nothing is pending and nothing is claimed anywhere in this data dir.
   */
  async next(worker: string, signal: AbortSignal, untilDrained = false): Promise<Claim | null> {
    while (!signal.aborted) {
      const claim = await this.claimOne(worker)
      if (claim) return claim
      if (Date.now() - this.lastRefreshAt > 50) {
        await this.refresh()
        const again = await this.claimOne(worker)
        if (again) return again
      }
      if (untilDrained && this.deferred.size === 0 && (await this.isDrained())) return null
      await this.waitForWork(signal)
    }
    return null
  }

  private waitForWork(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        this.waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, this.opts.rescanMs)
      signal.addEventListener('abort', done, { once: true })
      this.waiters.add(done)
    })
  }

  /** Nothing unclaimed in left/, and no batch in left/ whose marker says claimed. */
  async isDrained(): Promise<boolean> {
    const { layout } = this.opts
    const [leftNames, rightNames] = await Promise.all([readdir(layout.left), readdir(layout.right)])
    const markers = new Set(rightNames)
    for (const name of leftNames) {
      const c = classifyLeftName(name)
      if (c.kind !== 'batch') continue
      if (!markers.has(c.id)) return false
      const marker = await readMarker(layout, c.id)
      if (marker === null || marker.state === 'claimed') return false
    }
    return true
  }
}
