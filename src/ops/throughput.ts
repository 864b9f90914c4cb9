/**
 * Documents this process finished, per second, in a ring of the last `spanSeconds`: the
 * dashboard's chart reads rates from here, so they are the server's (one clock), and they
 * survive a page reload. A point's rate is the documents finished in the `windowSeconds`
 * before it, divided by that window (or by the time since the first document, when the
 * run is younger than the window: a fresh start does not look slow).
 */
export class Throughput {
  private readonly buckets: Float64Array
  /** The second (epoch) that buckets[head] counts. */
  private headSecond: number
  private firstAtMs: number | null = null

  constructor(
    private readonly spanSeconds = 900,
    private readonly now: () => number = Date.now,
  ) {
    this.buckets = new Float64Array(spanSeconds)
    this.headSecond = Math.floor(this.now() / 1000)
  }

  /** `docs` finished now. */
  add(docs: number): void {
    const sec = this.advance()
    this.firstAtMs ??= this.now()
    this.buckets[sec % this.spanSeconds] = (this.buckets[sec % this.spanSeconds] ?? 0) + docs
  }

  /**
   * One point every `stepSeconds` over the last `spanSeconds` (oldest first): its time (ms)
   * and the docs/s over the `windowSeconds` that end there.
   */
  series(stepSeconds = 2, windowSeconds = 10): { t: number; rate: number }[] {
    const head = this.advance()
    const out: { t: number; rate: number }[] = []
    const first = this.firstAtMs === null ? null : Math.floor(this.firstAtMs / 1000)
    // Points end at now, then every step before it, as far back as the ring holds a full window.
    for (let end = head; end >= head - this.spanSeconds + windowSeconds; end -= stepSeconds) {
      if (first === null || end < first) break
      let docs = 0
      for (let s = end - windowSeconds + 1; s <= end; s++) docs += this.buckets[s % this.spanSeconds] ?? 0
      // The current second is partial: count it as the fraction that has passed.
      const partial = end === head ? (this.now() % 1000) / 1000 : 1
      const span = Math.min(windowSeconds - 1 + partial, Math.max(partial, end - first + partial))
      out.push({ t: this.now() - (head - end) * 1000, rate: docs / Math.max(0.5, span) })
    }
    return out.reverse()
  }

  /** Move the head to now, zeroing the seconds skipped (idle time counts as 0 docs/s). */
  private advance(): number {
    const sec = Math.floor(this.now() / 1000)
    if (sec > this.headSecond) {
      const gap = Math.min(this.spanSeconds, sec - this.headSecond)
      for (let i = 1; i <= gap; i++) this.buckets[(this.headSecond + i) % this.spanSeconds] = 0
      this.headSecond = sec
    }
    return this.headSecond
  }
}
