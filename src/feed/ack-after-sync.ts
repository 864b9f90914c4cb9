import type { Logger } from '../core/log.js'
import { closeOpenFiles, type OpenFile, syncOpenFiles } from '../store/atomic.js'

/** Batch files written without a sync, and what may follow once they are durable. */
export interface Written {
  /** Written and in place, still open: closed here once their pass is over. */
  files: OpenFile[]
  bytes: number
  /**
   * Write the same batches again, each durably. After a failed sync pass the files' data may be
   * gone even though a second fsync would say all is well.
   */
  rewrite(signal: AbortSignal): Promise<void>
  /** Acknowledge their entries to the source: only ever after the files are durable. */
  ack(): Promise<void>
}

interface Waiting extends Written {
  settle(): void
}

/** Deliveries wait before writing more while this much waits for its sync. */
const MAX_WAITING_FILES = 64
const MAX_WAITING_BYTES = 32 * 1024 * 1024

/**
 * The prefetcher's durability step, apart from its deliveries: files handed over wait for one
 * sync pass shared by every delivery (every Kafka partition) in flight, then their entries are
 * acknowledged in the order they were handed over. A delivery goes on (the source fetches the
 * next one) while its files are synced and acknowledged.
 *
 * Promises: nothing is acknowledged before its files are durable; acknowledgements keep the
 * order of hand-over (a Kafka partition's commits never go back); a failed sync pass writes its
 * batches again, durably, before anything of it or after it is acknowledged; on stop, what is
 * not acknowledged comes again from the source.
 */
export class AckAfterSync {
  private queue: Waiting[] = []
  private passing: Promise<void> | null = null
  private waitingFiles = 0
  private waitingBytes = 0
  private roomWaiters: (() => void)[] = []
  /** While the passes wait for acknowledgements to end with nothing to sync: wakes them for more. */
  private added: (() => void) | null = null
  /** Set when a failed pass could not be written again: acknowledging anything later could skip it. */
  private broken = false

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
    private readonly signal: AbortSignal,
    /** How files are made durable: `syncOpenFiles`; a test hands in one that fails. */
    private readonly sync: (dir: string, files: OpenFile[]) => Promise<void> = syncOpenFiles,
  ) {}

  /** Hand over written files; resolves once they are acknowledged, or dropped on stop. */
  add(written: Written): Promise<void> {
    return new Promise<void>((settle) => {
      this.queue.push({ ...written, settle })
      this.waitingFiles += written.files.length
      this.waitingBytes += written.bytes
      this.added?.()
      this.kick()
    })
  }

  /** Start the passes unless they run; one added as they ended starts them again. */
  private kick(): void {
    this.passing ??= this.run().finally(() => {
      this.passing = null
      if (this.queue.length > 0) this.kick()
    })
  }

  /** True while so much waits for its sync that deliveries should wait before writing more. */
  full(): boolean {
    return this.waitingFiles >= MAX_WAITING_FILES || this.waitingBytes >= MAX_WAITING_BYTES
  }

  /** Resolves when the next pass ends, or after `maxMs`. */
  async passEnd(maxMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await new Promise<void>((resolve) => {
      this.roomWaiters.push(resolve)
      timer = setTimeout(resolve, maxMs)
    })
    clearTimeout(timer)
  }

  /** Resolves once everything handed over so far is acknowledged or dropped. */
  async drain(): Promise<void> {
    while (this.passing) await this.passing
  }

  /**
   * Pass after pass. A pass's acknowledgements go on while the next pass syncs (a Kafka commit is
   * a round trip to the broker: one after another they took a fifth of the prefetcher's time),
   * and they stay in hand-over order: a pass is acknowledged only after the one before it.
   */
  private async run(): Promise<void> {
    let acking: Promise<void> = Promise.resolve()
    for (;;) {
      const pass = this.queue.splice(0)
      if (pass.length > 0) {
        let durable = false
        try {
          durable = await this.durable(pass)
        } catch (err) {
          this.stopAcknowledging(err)
        } finally {
          closeOpenFiles(pass.flatMap((w) => w.files))
        }
        acking = acking.then(() => this.acknowledge(pass, durable))
        continue
      }
      // Nothing to sync: wait for the acknowledgements to end, or for files to sync meanwhile.
      const acked = acking.then(() => true)
      const added = new Promise<false>((resolve) => {
        this.added = () => resolve(false)
      })
      const ended = await Promise.race([acked, added])
      this.added = null
      if (ended && this.queue.length === 0) return
    }
  }

  private async acknowledge(pass: Waiting[], durable: boolean): Promise<void> {
    try {
      if (durable && !this.broken) {
        // Asked for in hand-over order, all at once: every file of the pass is durable, and a
        // source keeps the order of what it is asked (Kafka merges the commits: MergedCommits).
        await Promise.all(pass.map((w) => w.ack()))
      }
    } catch (err) {
      // An acknowledgement that throws (acks handle their own errors: a bug): going on could
      // commit past what it left out.
      this.stopAcknowledging(err)
    } finally {
      for (const w of pass) {
        this.waitingFiles -= w.files.length
        this.waitingBytes -= w.bytes
        w.settle()
      }
      for (const wake of this.roomWaiters.splice(0)) wake()
    }
  }

  /** True once the pass's files are durable; false when stopped first (nothing acknowledged). */
  private async durable(pass: Waiting[]): Promise<boolean> {
    const files = pass.flatMap((w) => w.files)
    try {
      await this.sync(this.dir, files)
      return true
    } catch (err) {
      this.log.error(
        { err, files: files.length },
        'syncing prefetched batch files failed; writing them again before acknowledging',
      )
    }
    for (const w of pass) {
      if (this.signal.aborted || this.broken) return false
      try {
        await w.rewrite(this.signal)
      } catch (err) {
        if (this.signal.aborted) return false
        this.stopAcknowledging(err)
        return false
      }
    }
    return true
  }

  private stopAcknowledging(err: unknown): void {
    this.broken = true
    this.log.error(
      { err },
      'prefetch cannot acknowledge safely any more; nothing more is acknowledged until a restart (the entries come again)',
    )
  }
}
