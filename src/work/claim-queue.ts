import type { FSWatcher } from 'chokidar'
import type { Service } from '../core/contracts.js'
import type { Logger } from '../core/log.js'
import { classifyLeftName, type Layout } from '../store/layout.js'
import { type Claim, readMarker, tryClaim } from '../store/markers.js'
import { markedIds, pendingIds, scanSpool } from '../store/scan.js'
import { liveWriters } from '../store/writers.js'
import { RandomSet } from './random-set.js'

export interface ClaimQueueOptions {
  layout: Layout
  log: Logger
  /** Full rescan period: watch events can be missed (rsync'd or network folders). */
  rescanMs: number
  /** Watch left/ with chokidar for new files (off in tests that want rescans only). */
  watch?: boolean
}

/** A watch of left/: its watcher once chokidar has loaded; `ready` settles at the watcher's 'ready'. */
interface WatchEntry {
  watcher: FSWatcher | null
  ready: Promise<void>
}

/** Watch left/ when fewer candidates than this wait; stop watching above WATCH_OFF_ABOVE. */
export const WATCH_ON_BELOW = 128
export const WATCH_OFF_ABOVE = 512
/** How often `--once` looks again while a writer is still filling left/. */
const WRITER_POLL_MS = 100
/**
 * How often `--once` looks again when nothing is left to claim but claims are still held: a
 * batch of this process wakes it when done, but another process's does not (it waited for the
 * next rescan, LR_RESCAN_MS, 5 s by default).
 */
const CLAIMS_POLL_MS = 250

/**
 * The process's view of claimable batches, shared by all its worker loops.
 * Candidates come from a rescan (left/ minus right/) and from chokidar `add`
 * events; a worker picks one at random and claims it with `wx`. Losing the
 * race (EEXIST) only drops that candidate. A claim is the marker on disk, never
 * this cache, so several processes on one data dir stay correct.
 */
export class ClaimQueue implements Service {
  private readonly opts: ClaimQueueOptions
  private readonly candidates = new RandomSet()
  /** Batches put back by this process that must wait until a time (young corrupt files, failed sinks). */
  private readonly deferred = new Map<string, number>()
  private readonly warnedNames = new Set<string>()
  private readonly waiters = new Set<() => void>()
  /** The watch of left/, while one is wanted: its watcher once made, settling at 'ready' (see closeWatcher). */
  private watch: WatchEntry | null = null
  /** Settles at the first next() (or stop): the watch opens after the first claims. */
  private readonly firstNext: Promise<void>
  private onFirstNext: () => void = () => {}
  private stopped = false
  private timer: NodeJS.Timeout | null = null
  private refreshing: Promise<void> | null = null
  private rescanAfter: Promise<void> | null = null
  private wakeups = 0
  private lastRefreshAt = 0

  constructor(opts: ClaimQueueOptions) {
    this.opts = opts
    this.firstNext = new Promise((resolve) => {
      this.onFirstNext = resolve
    })
  }

  async start(): Promise<void> {
    await this.refresh()
    this.adjustWatch()
    this.timer = setInterval(() => this.refreshAndWake(), this.opts.rescanMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.onFirstNext()
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.closeWatcher()
    this.wake()
  }

  /**
   * Watch left/ only while few batches are waiting. chokidar keeps one fs.watch
   * per file and re-reads (lstat) the whole folder on each change, which cost
   * about half the CPU of a 1,000-batch run; with a backlog, watch events add
   * nothing anyway, since every worker has a candidate. Hysteresis between the
   * two thresholds keeps it from flapping.
   */
  private adjustWatch(): void {
    if (this.opts.watch === false || this.stopped) return
    const n = this.candidates.size
    if (!this.watch && n < WATCH_ON_BELOW) this.openWatcher()
    else if (this.watch && n > WATCH_OFF_ABOVE) void this.closeWatcher()
  }

  private openWatcher(): void {
    const entry: WatchEntry = { watcher: null, ready: Promise.resolve() }
    const current = (): boolean => this.watch === entry
    entry.ready = (async () => {
      // chokidar loads once the workers have asked for their first claims: ~30 ms of start-up
      // (loading it, its first scan of left/) that need not come first.
      await this.firstNext
      await new Promise((resolve) => setImmediate(resolve))
      const { watch } = await import('chokidar')
      if (!current()) return
      const watcher = watch(this.opts.layout.left, { ignoreInitial: true, depth: 0 })
      entry.watcher = watcher
      watcher.on('add', (file: string) => this.onAdd(file))
      watcher.on('error', (err: unknown) => this.opts.log.warn({ err }, 'watch error; relying on rescans'))
      await new Promise<void>((resolve) => {
        watcher.once('ready', resolve)
        watcher.once('error', () => resolve())
      })
      // Files that arrived between the last rescan and the watch being in place.
      if (current()) this.refreshAndWake()
    })().catch((err: unknown) => this.opts.log.warn({ err }, 'watch not started; relying on rescans'))
    this.watch = entry
  }

  private async closeWatcher(): Promise<void> {
    const entry = this.watch
    this.watch = null
    if (!entry) return
    // A close() before 'ready' can leave a watch behind that keeps the process up
    // (paulmillr/chokidar#434; seen as a `start --once` that never exited): wait for it, briefly.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([entry.ready, new Promise<void>((r) => (timer = setTimeout(r, 2000)))])
    clearTimeout(timer)
    await entry.watcher?.close()
  }

  /** Is left/ being watched right now (few candidates) or left to rescans (a backlog)? */
  get watching(): boolean {
    return this.watch !== null
  }

  private onAdd(file: string): void {
    const name = file.slice(file.lastIndexOf('/') + 1)
    const c = classifyLeftName(name)
    if (c.kind !== 'batch') return
    this.candidates.add(c.id)
    this.wake()
  }

  /**
   * A batch this process has just written into left/ (`start FILE...`): a candidate at once,
   * without waiting for a rescan or a watch event.
   */
  offer(id: string): void {
    if (this.stopped) return
    this.candidates.add(id)
    this.wake()
  }

  /** A rescan from a timer or an event: a failure is logged, and the next rescan tries again. */
  refreshAndWake(): void {
    this.refresh().then(
      () => this.wake(),
      (err: unknown) => this.opts.log.warn({ err }, 'rescan of left/ and right/ failed; will try again'),
    )
  }

  /** Wake waiting loops (a batch finished or was put back: drained-ness may have changed). */
  wake(): void {
    this.wakeups++
    for (const w of this.waiters) w()
    this.waiters.clear()
  }

  /**
   * Rescan left/ and right/. Callers that arrive while a scan runs share one
   * follow-up scan (the running one may have read the folders before their change).
   */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.rescanAfter ??= this.refreshing.then(() => {
        this.rescanAfter = null
        return this.refresh()
      })
      return this.rescanAfter
    }
    this.refreshing = this.scan().finally(() => {
      this.refreshing = null
    })
    return this.refreshing
  }

  private async scan(): Promise<void> {
    const { layout, log } = this.opts
    const scan = await scanSpool(layout)
    for (const name of scan.invalid) {
      if (!this.warnedNames.has(name)) {
        this.warnedNames.add(name)
        log.warn({ file: `left/${name}` }, 'ignoring file: name is not <short-uuid>.msgpack')
      }
    }
    for (const name of scan.notFiles) {
      if (!this.warnedNames.has(name)) {
        this.warnedNames.add(name)
        log.warn({ file: `left/${name}` }, 'ignoring entry: named like a batch but not a regular file')
      }
    }
    this.candidates.clear()
    for (const id of pendingIds(scan)) this.candidates.add(id)
    this.lastRefreshAt = Date.now()
    this.adjustWatch()
  }

  /** Put a batch back into consideration no earlier than `delayMs` from now. */
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
      if (this.candidates.size === WATCH_ON_BELOW - 1) this.adjustWatch()
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
    this.onFirstNext()
    while (!signal.aborted) {
      // A wake() that lands while this loop looks (before it waits) must not be lost.
      const seen = this.wakeups
      const claim = await this.claimOne(worker)
      if (claim) return claim
      if (Date.now() - this.lastRefreshAt > 50) {
        await this.refresh()
        const again = await this.claimOne(worker)
        if (again) return again
      }
      let waitMs = this.opts.rescanMs
      if (untilDrained && this.deferred.size === 0) {
        const state = await this.drainState()
        if (state === 'drained') return null
        // A writer (enqueue) is still filling left/: look again soon rather than at the next rescan.
        if (state === 'writer') waitMs = WRITER_POLL_MS
        else if (state === 'claimed') waitMs = Math.min(waitMs, CLAIMS_POLL_MS)
      }
      if (this.wakeups === seen) await this.waitForWork(signal, waitMs)
    }
    return null
  }

  private waitForWork(signal: AbortSignal, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        this.waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      this.waiters.add(done)
    })
  }

  /** Nothing unclaimed in left/, no batch in left/ whose marker says claimed, and no writer (enqueue) still at it. */
  async isDrained(): Promise<boolean> {
    return (await this.drainState()) === 'drained'
  }

  /** Drained; a writer still at it; batches still to claim; or none to claim but some still claimed. */
  private async drainState(): Promise<'drained' | 'writer' | 'work' | 'claimed'> {
    const { layout } = this.opts
    if (liveWriters(layout).length > 0) return 'writer'
    const scan = await scanSpool(layout)
    if (pendingIds(scan).length > 0) return 'work'
    for (const id of markedIds(scan)) {
      const marker = await readMarker(layout, id)
      if (marker === null || marker.state === 'claimed') return 'claimed'
    }
    return 'drained'
  }
}
