import { close, open, utimes } from 'node:fs'
import path from 'node:path'
import { sleep } from '../core/sleep.js'
import { uniqueTag, unlinkQuiet } from './atomic.js'
import { ORPHAN_TMP_MS } from './housekeeping.js'

/**
 * Spare inodes for new batch files: empty `left/.tmp-spare-<tag>` files, made while their writer
 * is idle (the source's group join, a pause while left/ is full) and written into when a
 * delivery comes (atomic.ts, writeFileAtomicOpen), in place of a create.
 *
 * Why: on these machines' ext4 (no journal) a create costs 0.4-0.7 ms of the calling thread, a
 * rename of an existing file under 0.1 ms (bench/RESULTS.md, fifteenth session). A prefetcher
 * catching up after its join spent about a quarter of its time creating batch files (188 of
 * ~810 ms a round in a profile of the fourteenth session).
 *
 * A spare is a dot name in left/, the folder its batch file goes to: never claimed (layout.ts),
 * renamed into place without crossing folders, and the folder's one fsync covers both names. Only
 * the process that made a spare uses it (the list is in its memory). A crash leaves empty files
 * that the janitor's sweep of temp files older than an hour removes. A spare kept that long (a
 * prefetcher paused for hours while the workers catch up) gets a fresh mtime first, so the sweep
 * leaves it; one removed all the same is created again when written (flag 'w'), or, if it goes
 * between that open and the rename, the write falls back to a create (atomic.ts).
 */
export class BatchSpares {
  /** Spares ready, each with when it was made or last refreshed (ms). */
  private readonly free: { file: string; at: number }[] = []
  private filling: Promise<void> | null = null
  private refreshTimer: NodeJS.Timeout | null = null
  private readonly stopping = new AbortController()

  /**
   * @param dir the folder the batch files go to (left/)
   * @param target spares to keep ready: the burst they serve is at most left/'s room
   * @param idle true while the writer writes nothing: spares are made only then
   */
  constructor(
    private readonly dir: string,
    private readonly target: number,
    private readonly idle: () => boolean,
  ) {}

  /** Spares ready now. */
  get size(): number {
    return this.free.length
  }

  /** Make spares, while idle, until `target` are ready (a no-op while already at it). */
  fill(): void {
    if (this.stopping.signal.aborted) return
    this.refreshTimer ??= setInterval(() => void this.refresh(), REFRESH_EVERY_MS).unref()
    if (this.filling || this.free.length >= this.target) return
    this.filling = this.run().finally(() => {
      this.filling = null
    })
  }

  /** A spare to write the next batch file into, or undefined (then create one); starts a refill. */
  take(): string | undefined {
    const spare = this.free.pop()
    this.fill()
    return spare?.file
  }

  /** Stop making spares and remove the ones not used. */
  async drop(): Promise<void> {
    this.stopping.abort()
    if (this.refreshTimer) clearInterval(this.refreshTimer)
    await this.filling
    for (const spare of this.free.splice(0)) unlinkQuiet(spare.file)
  }

  /**
   * A fresh mtime for each spare made or refreshed more than REFRESH_AFTER_MS before `now`: the
   * janitor's sweep takes temp files older than ORPHAN_TMP_MS for a dead process's. Runs every
   * REFRESH_EVERY_MS; one call on libuv's pool per spare, one at a time.
   */
  async refresh(now = Date.now()): Promise<void> {
    for (const spare of this.free.filter((s) => now - s.at >= REFRESH_AFTER_MS)) {
      if (this.stopping.signal.aborted) return
      const at = new Date()
      // A spare taken meanwhile is refreshed for nothing: harmless.
      await new Promise<void>((resolve) => utimes(spare.file, at, at, () => resolve()))
      spare.at = at.getTime()
    }
  }

  private async run(): Promise<void> {
    const stopped = this.stopping.signal
    while (!stopped.aborted && this.free.length < this.target) {
      if (!this.idle()) {
        await sleep(IDLE_POLL_MS, stopped)
        continue
      }
      const spare = path.join(this.dir, `.tmp-spare-${uniqueTag()}`)
      // On libuv's pool: the main thread goes on with the source's join meanwhile.
      if (!(await createEmpty(spare))) return // a full disk, a folder gone: the writes create, as before
      if (stopped.aborted) unlinkQuiet(spare)
      else this.free.push({ file: spare, at: Date.now() })
    }
  }
}

/** How often a refill waiting for the writer to be idle looks again. */
const IDLE_POLL_MS = 50
/** Spares older than this get a fresh mtime, well before the temp sweep's age. */
const REFRESH_AFTER_MS = ORPHAN_TMP_MS / 3
const REFRESH_EVERY_MS = ORPHAN_TMP_MS / 6

function createEmpty(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    open(file, 'wx', (err, fd) => {
      if (err) resolve(false)
      else close(fd, (closeErr) => resolve(closeErr === null))
    })
  })
}
