/** An offset to commit: the next one to read in a partition. */
export interface PartitionOffset {
  topic: string
  partition: number
  offset: string
}

/**
 * A consumer's offset commits, merged: one commit in flight at a time, and the next carries the
 * latest offset asked for in each partition meanwhile. A commit is a round trip to the broker;
 * the prefetcher acknowledges a sync pass's groups of files at once, and one by one their commits
 * took a fifth of its time. Order holds by construction: the latest ask for a partition is sent,
 * and never before an earlier send has ended.
 */
export class MergedCommits {
  private readonly pending = new Map<string, PartitionOffset>()
  private inFlight: Promise<void> | null = null
  private next: Promise<void> | null = null

  constructor(private readonly send: (offsets: PartitionOffset[]) => Promise<void>) {}

  /** Resolves once a commit carrying this offset (or a later one of its partition) has been made. */
  commit(o: PartitionOffset): Promise<void> {
    this.pending.set(`${o.topic}\u0000${o.partition}`, o)
    this.next ??= (this.inFlight ?? Promise.resolve())
      .catch(() => {
        // The commit before failed: its callers were told; this one goes on.
      })
      .then(() => {
        const offsets = [...this.pending.values()]
        this.pending.clear()
        // From here on, asks wait for the commit after this one.
        this.next = null
        const sending = this.send(offsets)
        this.inFlight = sending
        return sending.finally(() => {
          if (this.inFlight === sending) this.inFlight = null
        })
      })
    return this.next
  }
}
