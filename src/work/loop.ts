import { stat } from 'node:fs/promises'
import { childAbort } from '../core/abort.js'
import {
  AbortedError,
  BatchCorruptError,
  ClaimLostError,
  isNoSpace,
  MappingError,
  SinkError,
} from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { retry } from '../core/retry.js'
import { backoffMs, sleep } from '../core/sleep.js'
import { retireBatchFile } from '../store/batches.js'
import { hasRoom } from '../store/disk.js'
import { leftFile } from '../store/layout.js'
import type { Claim } from '../store/markers.js'
import { clearPutBacks, readPutBacks } from '../store/put-back.js'
import { moveBatchToBad } from '../store/set-aside.js'
import type { ClaimQueue } from './claim-queue.js'
import { type PipelineDeps, processBatch } from './process-batch.js'
import type { SoloGate } from './solo-gate.js'

export interface LoopContext {
  deps: PipelineDeps
  queue: ClaimQueue
  log: Logger
  /** Aborted on the first stop request: claim nothing new. */
  stopSignal: AbortSignal
  /** Aborted when the shutdown grace period is over: in-flight batches are given back. */
  hardSignal: AbortSignal
  heartbeatMs: number
  badGraceMs: number
  /** Done batch files go to archive/ for this many days (0: deleted). */
  archiveDays: number
  /** Return once nothing is pending or claimed (`--once`). */
  untilDrained: boolean
  /** Claims held right now, so a forced exit can give them back. */
  held: Set<Claim>
  /** Suspect batches (put back after a crash) run alone in this process. */
  gate: SoloGate
  /** A permanent storage error (a table that does not fit, access denied): stop all loops. */
  onFatal: (err: Error) => void
  stats: LoopStats
}

export interface LoopStats {
  batchesDone: number
  docsOk: number
  docsFailed: number
  batchesBad: number
  batchesReleased: number
  active: number
  /** Loop iterations that failed outside a batch's own handling (claiming, setting aside). */
  loopErrors: number
}

export function newLoopStats(): LoopStats {
  return {
    batchesDone: 0,
    docsOk: 0,
    docsFailed: 0,
    batchesBad: 0,
    batchesReleased: 0,
    active: 0,
    loopErrors: 0,
  }
}

/**
 * Batches a loop may have with the sink, not yet done, while it prepares another. With 4
 * loops, 16 batches can wait, so a group commit finds most of a statement (10 batches of
 * 100 documents) ready. Fewer left the database waiting between commits (bench/RESULTS.md).
 */
const MAX_BEHIND = 4

/**
 * One worker loop: claim, process, mark done; until stopped (or drained with --once).
 * It never dies: an error in an iteration (a marker that cannot be written on a
 * full disk, a file that cannot be moved) is logged, counted, backed off from,
 * and the loop goes on.
 *
 * Write-behind: once a batch's results are handed to the sink, the loop claims and
 * prepares its next batch while that commit is pending; each batch is marked done when
 * its own commit resolves, never before. At most MAX_BEHIND batches per loop wait on
 * the sink; beyond that the loop waits for its oldest to end. (Sink-bound, the loop
 * would otherwise idle while the database works, and the database while the loop works.)
 */
export async function runLoop(ctx: LoopContext, worker: string): Promise<void> {
  let failures = 0
  /** Batches this loop handed to the sink, oldest first; each settles to its error if it failed outside its own handling. */
  const behind: Promise<unknown>[] = []
  try {
    while (!ctx.stopSignal.aborted) {
      try {
        // Take no claim that cannot be recorded: with the disk full, wait for space first.
        if (ctx.deps.outages.isDown('disk')) await waitForSpace(ctx)
        if (ctx.stopSignal.aborted) break
        const claim = await ctx.queue.next(worker, ctx.stopSignal, ctx.untilDrained)
        if (!claim) break
        // Its marker was written: the disk takes writes again (said once there is room, not at every freed page).
        if (ctx.deps.outages.isDown('disk') && (await hasRoom(ctx.deps.layout.root)))
          ctx.deps.outages.ok('disk')
        ctx.stats.active++
        let storing: () => void = () => {}
        const handed = new Promise<void>((resolve) => {
          storing = resolve
        })
        const run = handleClaim(ctx, claim, worker, storing).finally(() => {
          ctx.stats.active--
          ctx.queue.wake()
        })
        // Until this batch is with the sink (or has ended): a failure here is this iteration's.
        await Promise.race([handed, run])
        behind.push(
          run.then(
            () => undefined,
            (err: unknown) => err,
          ),
        )
        while (behind.length > MAX_BEHIND) {
          const olderErr = await behind.shift()
          if (olderErr !== undefined) throw olderErr
        }
        failures = 0
      } catch (err) {
        if (isNoSpace(err)) {
          // Said once for the whole process (Outages); the loop waits for space at its top.
          ctx.deps.outages.failed('disk', err, 'no new claims')
          continue
        }
        failures++
        ctx.stats.loopErrors++
        const waitMs = backoffMs(Math.min(failures, 6), 250, 15_000)
        ctx.log.error({ err, worker, failures, waitMs }, 'worker loop iteration failed; backing off')
        await sleep(waitMs, ctx.stopSignal)
      }
    }
  } finally {
    // The loop returns only when its last batch has ended (done, given back or set aside).
    for (const lastErr of await Promise.all(behind)) {
      if (lastErr === undefined) continue
      if (isNoSpace(lastErr)) ctx.deps.outages.failed('disk', lastErr, 'no new claims')
      else {
        ctx.stats.loopErrors++
        ctx.log.error({ err: lastErr, worker }, 'worker loop iteration failed')
      }
    }
  }
}

async function handleClaim(
  ctx: LoopContext,
  claim: Claim,
  worker: string,
  onStoring: () => void,
): Promise<void> {
  const { log, deps } = ctx
  const id = claim.id
  // The batch's signal: the pool's hard stop, or this claim lost.
  const batch = childAbort(ctx.hardSignal)
  const signal = batch.signal
  let claimLost = false
  ctx.held.add(claim)
  const heartbeat = setInterval(() => {
    claim.heartbeat().catch((err: unknown) => {
      if (err instanceof ClaimLostError) {
        claimLost = true
        batch.abort(err)
      } else log.warn({ batch: id, err }, 'heartbeat failed')
    })
  }, ctx.heartbeatMs)
  const startedAt = Date.now()
  let entered: 'normal' | 'solo' | null = null
  try {
    log.debug({ batch: id, worker }, 'claimed')
    // A batch put back after its owner died runs alone: a crash then is its own.
    const suspect = (await readPutBacks(deps.layout, id)).length > 0
    if (suspect) {
      if (!ctx.gate.tryEnterSolo()) {
        await claim.release()
        ctx.queue.defer(id, 1000)
        return
      }
      entered = 'solo'
      await ctx.gate.soloReady(signal)
      await claim.markAlone()
      log.info({ batch: id, worker }, 'batch put back after a crash: running it alone')
    } else {
      await ctx.gate.enterNormal(signal)
      entered = 'normal'
    }
    const { docs, ok, failed, repeats } = await processBatch(deps, id, signal, onStoring)
    // The results are stored: a full disk must not make the batch run again; keep the claim and wait.
    await retry(
      `batch ${id}: marking it done`,
      () => claim.finish({ docs, ok, failed, ...(repeats > 0 ? { repeats } : {}) }),
      {
        attempts: Number.POSITIVE_INFINITY,
        baseMs: 500,
        capMs: 5000,
        retryable: isNoSpace,
        onRetry: ({ err }) => deps.outages.failed('disk', err, 'finished batches wait to be marked done'),
      },
      ctx.hardSignal,
    )
    ctx.held.delete(claim)
    // The results are committed and the marker says done: the batch file and milestone can go.
    await retireBatchFile(deps.layout, id, ctx.archiveDays, { spare: true })
    await clearPutBacks(deps.layout, id)
    ctx.stats.batchesDone++
    ctx.stats.docsOk += ok
    ctx.stats.docsFailed += failed
    deps.observer?.batchDone(ok, failed)
    log.info({ batch: id, worker, docs, ok, failed, ms: Date.now() - startedAt }, 'batch done')
  } catch (err) {
    await onFailure(ctx, claim, err, claimLost)
  } finally {
    clearInterval(heartbeat)
    batch.dispose()
    ctx.held.delete(claim)
    if (entered === 'solo') ctx.gate.exitSolo()
    else if (entered === 'normal') ctx.gate.exitNormal()
  }
}

async function onFailure(ctx: LoopContext, claim: Claim, err: unknown, claimLost: boolean): Promise<void> {
  const { log, deps, queue } = ctx
  const id = claim.id
  if (claimLost || err instanceof ClaimLostError) {
    log.warn(
      { batch: id },
      'claim was taken back; abandoning the batch (results written so far are idempotent)',
    )
    return
  }
  if (err instanceof BatchCorruptError) {
    const ageMs = await fileAgeMs(leftFile(deps.layout, id))
    if (ageMs === null) {
      await claim.release()
      return
    }
    if (ageMs < ctx.badGraceMs) {
      // rsync (or another writer) may still be filling it in: look again later.
      await claim.release()
      queue.defer(id, ctx.badGraceMs - ageMs)
      log.warn(
        { batch: id, reason: err.reason, ageMs },
        'batch file does not verify yet; waiting before setting it aside',
      )
      return
    }
    await moveBatchToBad(deps.layout, id, err.message, err.code)
    ctx.stats.batchesBad++
    log.error({ batch: id, reason: err.reason }, 'batch file set aside in bad/')
    return
  }
  const released = await claim.release()
  ctx.stats.batchesReleased++
  if ((err instanceof SinkError || err instanceof MappingError) && !err.retryable) {
    // No retry can fix it, and every batch would hit it: stop, never an endless retry.
    ctx.onFatal(err)
    return
  }
  if (err instanceof AbortedError || ctx.hardSignal.aborted) {
    log.info({ batch: id, released }, 'batch given back unfinished (shutdown)')
    return
  }
  const waitMs = 1000 + backoffMs(3)
  queue.defer(id, waitMs)
  log.error({ batch: id, err, retryInMs: waitMs }, 'batch failed; given back for a retry')
}

async function waitForSpace(ctx: LoopContext): Promise<void> {
  while (!ctx.stopSignal.aborted) {
    if (await hasRoom(ctx.deps.layout.root)) return
    await sleep(1000, ctx.stopSignal)
  }
}

async function fileAgeMs(file: string): Promise<number | null> {
  try {
    return Date.now() - (await stat(file)).mtimeMs
  } catch {
    return null
  }
}
