import { mkdir, readFile, rm } from 'node:fs/promises'
import { hostname } from 'node:os'
import lockfile from 'proper-lockfile'
import type { DiskFloor, Settings } from '../core/config.js'
import type { DocFailure, Service } from '../core/contracts.js'
import { isNoSpace, isNotFound } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import type { Outages } from '../core/outages.js'
import { ownerIsGone } from '../core/pid.js'
import { writeFileAtomic } from '../store/atomic.js'
import { retireBatchFile } from '../store/batches.js'
import { diskState } from '../store/disk.js'
import {
  compactDoneMarkers,
  pruneArchive,
  reclaimDisk,
  removeOrphanClaims,
  removeOrphanTemps,
} from '../store/housekeeping.js'
import { type Layout, stateFiles } from '../store/layout.js'
import { markerMtimeMs, readMarker } from '../store/markers.js'
import { clearPutBacks, putBackStale } from '../store/put-back.js'
import { judgeClaim, markedIds, scanSpool } from '../store/scan.js'

async function readOwner(file: string): Promise<{ host: string; pid: number } | null> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if (isNotFound(err)) return null
    throw err
  }
  try {
    return JSON.parse(text) as { host: string; pid: number }
  } catch {
    // Written atomically, so damaged only by hand: no owner we can judge.
    return null
  }
}

export interface JanitorOptions {
  layout: Layout
  log: Logger
  staleMs: number
  /** How often to sweep. */
  everyMs: number
  /** Called after a batch was put back, so waiting workers look again. */
  onRequeue?: () => void
  /** Where a full disk is reported (once for the process); absent when the janitor runs alone. */
  outages?: Outages
  /** Record a poison document where failures go (doc_failures); it is in dead/ already. */
  onPoison?: (failure: DocFailure) => Promise<void>
  /** Keep done batch files in archive/ this long (0: delete them). */
  archiveDays: number
  /** Compact done markers older than this into state/ledger/. */
  ledgerAfterMs: number
  minFreeDisk: DiskFloor
  /** Ledger compaction and archive pruning run at most this often (disk checks run every sweep). */
  housekeepingEveryMs: number
}

/** Sweep often enough that a stale claim waits at most about a quarter of staleMs beyond it. */
export function janitorPeriodMs(staleMs: number): number {
  return Math.max(250, Math.min(5000, Math.floor(staleMs / 4)))
}

/** The janitor's options from the settings (for `start`, `work` and `janitor`). */
export function janitorOptions(
  settings: Settings,
  layout: Layout,
  log: Logger,
  hooks: Pick<JanitorOptions, 'onRequeue' | 'onPoison' | 'outages'> = {},
): JanitorOptions {
  return {
    ...hooks,
    layout,
    log: log.child({ component: 'janitor' }),
    staleMs: settings.staleMs,
    everyMs: janitorPeriodMs(settings.staleMs),
    archiveDays: settings.archiveDays,
    ledgerAfterMs: settings.ledgerAfterMs,
    minFreeDisk: settings.minFreeDisk,
    housekeepingEveryMs: 60_000,
  }
}

/**
 * One per data dir (a proper-lockfile lock on state/janitor; a process that
 * cannot take it checks again later). Each sweep looks at the batches still in
 * left/ that have a marker:
 * - claimed, owner pid gone on this host, or heartbeat older than staleMs: put back
 *   (after 3 put-backs: bad/ with the history);
 * - done, but the batch file is still there (a crash right after marking done): delete it.
 */
export class Janitor implements Service {
  private timer: NodeJS.Timeout | null = null
  private release: (() => Promise<void>) | null = null
  private sweeping: Promise<void> | null = null
  private stopped = false
  private lastHousekeeping = 0
  private diskLowLogged = false
  private waitingLogged = false
  private noSpaceSaid = false
  /** Consecutive failed sweeps, and the last failure's message (for status). */
  failures = 0
  lastError: string | null = null

  constructor(private readonly opts: JanitorOptions) {}

  /**
   * The first sweep, then one every `everyMs`. `claimsFirst` (inside `start`): the first sweep
   * only puts back dead claims (and splits or sets aside suspects), which is quick and must come
   * before the workers' first calls; the slower housekeeping (compacting done markers, orphan
   * files) follows at once, beside the workers.
   */
  async start(opts: { claimsFirst?: boolean } = {}): Promise<void> {
    await this.tick(!opts.claimsFirst)
    // Stopped during the first sweep (a `start --once` with nothing to do): no timer, or it
    // would keep the process up for good.
    if (this.stopped) return
    if (opts.claimsFirst) void this.tick()
    // Not unref'd: a janitor running alone (`leftright janitor`) keeps its process up until stop().
    this.timer = setInterval(() => void this.tick(), this.opts.everyMs)
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    await this.sweeping
    const release = this.release
    this.release = null
    await release?.().catch((err: unknown) =>
      this.opts.log.warn({ err }, 'releasing the janitor lock failed'),
    )
  }

  private async tick(housekeeping = true): Promise<void> {
    if (this.sweeping || this.stopped) return
    this.sweeping = (async () => {
      try {
        if (!(await this.holdLock())) return
        await this.sweep(housekeeping)
        this.failures = 0
      } catch (err) {
        if (isNoSpace(err)) {
          // A full disk is an outage, said once (by the pool's Outages, or here when running alone).
          if (this.opts.outages) this.opts.outages.failed('disk', err, 'the janitor waits')
          else if (!this.noSpaceSaid) this.opts.log.warn({ err }, 'out of disk space: the janitor waits')
          this.noSpaceSaid = true
          return
        }
        this.noSpaceSaid = false
        // The loop never dies: the failure is logged and shown in status, and the next tick tries again.
        this.failures++
        this.lastError = err instanceof Error ? err.message : String(err)
        this.opts.log.error({ err, failures: this.failures }, 'janitor sweep failed; will try again')
      }
    })().finally(() => {
      this.sweeping = null
    })
    await this.sweeping
  }

  private async holdLock(): Promise<boolean> {
    if (this.release) return true
    const { janitorLock: dir, janitorOwner: ownerFile } = stateFiles(this.opts.layout)
    await mkdir(dir, { recursive: true })
    // proper-lockfile judges a lock by its age alone (30 s); a janitor that died on this host is known at once.
    if (await lockfile.check(dir, { stale: 30_000 }).catch(() => false)) {
      const owner = await readOwner(ownerFile)
      if (owner && ownerIsGone(owner)) {
        this.opts.log.info({ pid: owner.pid }, 'janitor lock held by a dead process; taking it over')
        await rm(`${dir}.lock`, { recursive: true, force: true })
      }
    }
    try {
      this.release = await lockfile.lock(dir, {
        stale: 30_000,
        update: 10_000,
        retries: 0,
        onCompromised: (err) => {
          this.opts.log.warn({ err }, 'janitor lock lost; another janitor may run here')
          this.release = null
        },
      })
      await writeFileAtomic(ownerFile, `${JSON.stringify({ host: hostname(), pid: process.pid })}\n`)
      this.opts.log.debug('janitor lock taken')
      return true
    } catch (err) {
      if ((err as { code?: string }).code !== 'ELOCKED') throw err
      if (!this.waitingLogged) {
        this.waitingLogged = true
        const owner = await readOwner(ownerFile)
        this.opts.log.info(
          { owner },
          'another janitor holds this data dir (state/janitor.lock); this one waits and checks again',
        )
      }
      return false
    }
  }

  /** One pass: stale claims, done batch files, then disk and (now and then) ledger and archive. */
  async sweep(housekeeping = true): Promise<void> {
    await this.sweepClaims()
    if (!housekeeping) return
    await this.reclaimIfLow()
    if (Date.now() - this.lastHousekeeping >= this.opts.housekeepingEveryMs) {
      this.lastHousekeeping = Date.now()
      await this.housekeeping()
    }
  }

  private async reclaimIfLow(): Promise<void> {
    const { layout, log, minFreeDisk } = this.opts
    const before = await diskState(layout.root, minFreeDisk)
    if (!before.low) {
      this.diskLowLogged = false
      return
    }
    const freed = await reclaimDisk(layout, minFreeDisk)
    const after = await diskState(layout.root, minFreeDisk)
    if (!this.diskLowLogged || freed > 0) {
      log.warn(
        { freeBytes: after.freeBytes, freedBytes: freed, stillLow: after.low },
        after.low
          ? 'free disk under LR_MIN_FREE_DISK: reclaimed what is safe to delete; prefetch stays paused'
          : 'free disk under LR_MIN_FREE_DISK: reclaimed enough',
      )
    }
    this.diskLowLogged = after.low
  }

  private async housekeeping(): Promise<void> {
    const { layout, log } = this.opts
    const compacted = await compactDoneMarkers(layout, this.opts.ledgerAfterMs)
    if (compacted > 0) log.info({ markers: compacted }, 'done markers compacted into state/ledger/')
    if (this.opts.archiveDays > 0) {
      const freed = await pruneArchive(layout, this.opts.archiveDays)
      if (freed > 0) log.info({ freedBytes: freed }, 'archive pruned')
    }
    await removeOrphanTemps(layout)
    const orphans = await removeOrphanClaims(layout, this.opts.staleMs)
    if (orphans > 0)
      log.info({ markers: orphans }, 'claims left without their batch file by a dead owner removed')
  }

  /** One pass over the batches in left/ that have a marker. */
  private async sweepClaims(): Promise<void> {
    const { layout, log } = this.opts
    for (const id of markedIds(await scanSpool(layout))) {
      const marker = await readMarker(layout, id)
      if (!marker) continue
      if (marker.state === 'done') {
        await retireBatchFile(layout, id, this.opts.archiveDays)
        await clearPutBacks(layout, id)
        continue
      }
      if (marker.state !== 'claimed') continue
      const mtimeMs = await markerMtimeMs(layout, id)
      if (mtimeMs === null) continue
      const verdict = judgeClaim(marker, mtimeMs, this.opts.staleMs)
      if (!verdict.stale) continue
      const outcome = await putBackStale(layout, id, marker, verdict.reason)
      if (outcome === null) continue
      const fields = {
        batch: id,
        host: marker.host,
        pid: marker.pid,
        ageMs: Math.round(verdict.ageMs),
        reason: verdict.reason,
      }
      switch (outcome.kind) {
        case 'requeued':
          log.warn(fields, 'stale claim put back; the batch runs alone next')
          break
        case 'split':
          log.warn({ ...fields, halves: outcome.halves }, 'batch died again while alone: split in halves')
          break
        case 'poison':
          log.error(
            { ...fields, doc: outcome.doc.doc_id },
            'a document crashed its process while alone: set aside in dead/ (LR_POISON)',
          )
          await this.opts.onPoison?.({
            doc_id: outcome.doc.doc_id,
            batch_id: id,
            stage: 'poison',
            error: `LR_POISON: the process died ${outcome.history.length} times with this document in flight`,
            attempts: outcome.history.length,
          })
          break
        case 'bad':
          log.error({ ...fields, why: outcome.reason }, 'batch file does not decode: set aside in bad/')
          break
      }
      this.opts.onRequeue?.()
    }
  }
}
