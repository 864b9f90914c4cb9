import type { DiskFloor } from '../core/config.js'
import { isNoSpace } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { Outages } from '../core/outages.js'
import { retry } from '../core/retry.js'
import { sleep } from '../core/sleep.js'
import { floorState } from '../store/disk.js'

/** How often free disk is checked against the floor, and how often a paused or full-disk writer looks again. */
const DISK_CHECK_MS = 500

/**
 * Room on the disk for the batch files of a one-shot writer (`enqueue`, `dispatch --to-left`). Under the floor (LR_MIN_FREE_DISK) it waits before
 * writing, so that workers running beside it can still record claims and results: one line when
 * it pauses, one when it goes on. A write that finds the disk full waits for space and is written
 * again (atomic writes leave nothing half-written): one line when it ran out, one when space is back.
 */
export class DiskRoom {
  private checkedAt = 0
  /** Free bytes above the floor at the last check, and bytes written since. */
  private headroom = 0
  private spent = 0
  private readonly outages: Outages

  constructor(
    /** Who writes, for its log lines. */
    private readonly who: string,
    private readonly dir: string,
    private readonly floor: DiskFloor | undefined,
    private readonly log: Logger,
    private readonly signal?: AbortSignal,
  ) {
    this.outages = new Outages(log)
  }

  /** Before a batch file of about `bytes` is written: wait while free disk is under the floor. */
  async waitForFloor(bytes: number): Promise<void> {
    const floor = this.floor
    if (!floor) return
    this.spent += bytes
    // statfs every DISK_CHECK_MS, and more often as the last check's headroom is used up.
    if (Date.now() - this.checkedAt < DISK_CHECK_MS && this.spent < this.headroom / 2) return
    if (!(await this.low(floor, false))) return
    const pausedAt = Date.now()
    this.log.info(
      { reason: 'disk' },
      `${this.who} paused: free disk is under LR_MIN_FREE_DISK; waiting for space`,
    )
    do await sleep(DISK_CHECK_MS, this.signal)
    while (await this.low(floor, true))
    const pausedMs = Date.now() - pausedAt
    this.log.info(
      { reason: 'disk', pausedMs },
      `${this.who} resumed after ${Math.round(pausedMs / 1000)} s (disk)`,
    )
  }

  private async low(floor: DiskFloor, paused: boolean): Promise<boolean> {
    const s = await floorState(this.dir, floor, paused)
    this.checkedAt = Date.now()
    this.headroom = s.freeBytes - s.minBytes
    this.spent = 0
    return s.low
  }

  async write<T>(fn: () => Promise<T>): Promise<T> {
    const out = await retry(
      'write a batch file',
      fn,
      {
        attempts: Number.POSITIVE_INFINITY,
        retryable: isNoSpace,
        onRetry: ({ err }) => this.outages.failed('disk', err, `${this.who} waits`),
        wait: (_ms, signal) => sleep(DISK_CHECK_MS, signal),
      },
      this.signal,
    )
    this.outages.ok('disk')
    return out
  }
}
