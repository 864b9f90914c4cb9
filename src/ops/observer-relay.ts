import type { PipelineObserver } from '../core/contracts.js'

/**
 * Passes the pipeline's events to an observer that is attached later (the metrics, loaded
 * once the workers have started so their first claims are not held up by it). Events that
 * come before it is attached are kept, up to `keep`, and replayed on attach.
 */
export class ObserverRelay implements PipelineObserver {
  private target: PipelineObserver | null = null
  private pending: ((o: PipelineObserver) => void)[] = []

  constructor(private readonly keep = 100_000) {}

  attach(target: PipelineObserver): void {
    this.target = target
    for (const event of this.pending) event(target)
    this.pending = []
  }

  recognitionError(kind: string): void {
    this.send((o) => o.recognitionError(kind))
  }

  stored(rows: number, seconds: number): void {
    this.send((o) => o.stored(rows, seconds))
  }

  batchDone(ok: number, failed: number): void {
    this.send((o) => o.batchDone(ok, failed))
  }

  private send(event: (o: PipelineObserver) => void): void {
    if (this.target) event(this.target)
    else if (this.pending.length < this.keep) this.pending.push(event)
  }
}
