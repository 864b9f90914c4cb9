import { close, open } from 'node:fs'
import path from 'node:path'
import { sleep } from '../core/sleep.js'
import { uniqueTag, unlinkQuiet } from './atomic.js'

/**
 * Spare inodes for new batch files: empty `left/.tmp-spare-<tag>` files, made while their writer
 * is idle (the source's group join, a pause while left/ is full) and written into when a
 * delivery comes (atomic.ts, writeFileAtomicOpen), in place of a create.
 *
 * Why: on these machines' ext4 (no journal) a create costs 0.4-0.7 ms of the calling thread, a
 * rename of an existing file under 0.1 ms (bench/RESULTS.md, fifteenth session). A prefetcher
 * catching up after its join spent about a third of its time creating batch files.
 *
 * A spare is a dot name in left/, the folder its batch file goes to: never claimed (layout.ts),
 * renamed into place without crossing folders, and the folder's one fsync covers both names. Only
 * the process that made a spare uses it (the list is in its memory). A crash leaves empty files
 * that the janitor's sweep of temp files older than an hour removes; a spare so removed while its
 * process still lists it is created again when written (flag 'w'), or, if it goes between that
 * open and the rename, the write falls back to a create (atomic.ts).
 */
export class BatchSpares {
  private readonly free: string[] = []
  private filling: Promise<void> | null = null
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
    if (this.filling || this.stopping.signal.aborted || this.free.length >= this.target) return
    this.filling = this.run().finally(() => {
      this.filling = null
    })
  }

  /** A spare to write the next batch file into, or undefined (then create one); starts a refill. */
  take(): string | undefined {
    const spare = this.free.pop()
    this.fill()
    return spare
  }

  /** Stop making spares and remove the ones not used. */
  async drop(): Promise<void> {
    this.stopping.abort()
    await this.filling
    for (const spare of this.free.splice(0)) unlinkQuiet(spare)
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
      else this.free.push(spare)
    }
  }
}

/** How often a refill waiting for the writer to be idle looks again. */
const IDLE_POLL_MS = 50

function createEmpty(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    open(file, 'wx', (err, fd) => {
      if (err) resolve(false)
      else close(fd, (closeErr) => resolve(closeErr === null))
    })
  })
}
