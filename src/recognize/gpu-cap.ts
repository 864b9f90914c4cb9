import pLimit, { type LimitFunction } from 'p-limit'
import { AbortedError, RecognizeError } from '../core/errors.js'
import { sleep } from '../core/sleep.js'

export interface GpuCapOptions {
  /** Most calls in flight (LR_GPU_CONCURRENCY). */
  max: number
  /**
   * Where the limit starts. Below `max` with `slowStart`, it grows by one per call that
   * finds it in use (doubling per round trip, as TCP's slow start) until the first
   * overload; without, it probes upwards gently from there. Default `max`.
   */
  start?: number
  /** Grow fast from `start` until the first overload. Default false. */
  slowStart?: boolean
  /**
   * Slow start's step: the limit rises by one at most this often, so the refusal of one raise
   * (a reset or a 503, seen a few ms after the call) comes back before the next raise; raising at
   * every answer, each answer that came in meanwhile sent one more call to be refused. And before
   * the service has answered any call, the limit rises by one this often while it is in use,
   * instead of waiting a whole call for the first answer: a service that refuses over its capacity
   * at once is full within a few steps. Default 0: a raise at every answer, none before the first.
   */
  slowStartStepMs?: number
  /** Fewest calls in flight the limit comes down to. Default 1. */
  min?: number
  /** An overload multiplies the limit by this (and caps it below the calls in flight). Default 0.9. */
  decreaseFactor?: number
  /** Successes raise the limit by one at most this often. Default 1000 ms. */
  increaseEveryMs?: number
  /**
   * A raise the service refuses doubles the wait before the next one, up to this; a raise that
   * holds brings it back to `increaseEveryMs`. Default 30000 ms.
   */
  probeBackoffMaxMs?: number
  /** Consecutive failures that open the circuit. Default 10. */
  circuitAfter?: number
  /** How long an open circuit holds calls back before one trial call. Default 2000 ms. */
  circuitOpenMs?: number
}

/** What the pipeline needs of a cap on calls: run one under it, and its state. */
export interface CallCap {
  run<T>(call: () => Promise<T>, signal: AbortSignal): Promise<T>
  snapshot(): GpuCapSnapshot
}

export interface GpuCapSnapshot {
  limit: number
  /** Still growing fast from the start (no overload seen yet). */
  slowStart: boolean
  /** When the last call was made (ms since the epoch), or null before the first. */
  lastCallAt: number | null
  max: number
  inFlight: number
  circuit: 'closed' | 'open' | 'half-open'
  calls: number
  ok: number
  overloads: number
  failures: number
  decreases: number
  circuitOpens: number
}

/**
 * The process-wide cap on recognition calls in flight, shared by every worker
 * loop; `max` is LR_GPU_CONCURRENCY. Additive increase, multiplicative
 * decrease, tuned for a service whose capacity is a handful of calls:
 * - a call refused for overload (429, 503, connection reset, socket closed,
 *   timeout) lowers the limit to `decreaseFactor` of itself, and to below the
 *   calls that were in flight when it was refused (the service could not take
 *   that many), so one burst of refusals finds the capacity at once;
 * - successes raise it by one at most every `increaseEveryMs`, probing gently:
 *   about one refused call per probe. The first probe waits a full period from the
 *   start too: a limit an earlier run learned is not tested again at its first answer.
 *   Each refused probe doubles the period (up to `probeBackoffMaxMs`), and one that
 *   holds brings it back: at a steady capacity the refused calls thin out from one a
 *   second to one every half minute, and a service that takes more is still found.
 * With `slowStart`, the limit starts low (or where an earlier run found the service's
 * capacity) and grows by one per call that finds it full until the first overload, so a
 * cap set far above the capacity costs one refused call instead of a burst; with
 * `slowStartStepMs`, at most one step per period (a refusal comes back before the next
 * raise), and one each such period before the service's first answer. The refusal that ends
 * slow start counts as a refused probe: the first gentle probe waits two periods.
 * `Retry-After` pauses new calls. Consecutive failures that lowering cannot
 * help (errors other than overload, or overload at the minimum limit) open a
 * circuit: no calls for `circuitOpenMs`, then one trial call decides.
 */
export class GpuCap implements CallCap {
  private readonly limiter: LimitFunction
  private readonly max: number
  private readonly min: number
  private readonly decreaseFactor: number
  private readonly increaseEveryMs: number
  private readonly probeBackoffMaxMs: number
  /** The wait between raises now: `increaseEveryMs`, doubled by each refused raise. */
  private probeEveryMs: number
  /** When the last raise was made, until a refusal or a call made after it settles it; else null. */
  private probeAt: number | null = null
  private readonly circuitAfter: number
  private readonly circuitOpenMs: number
  private limitF: number
  private pauseUntil = 0
  /** The last raise, lowering or start: the next probe upwards waits a full period after it. */
  private lastIncreaseAt = Date.now()
  private consecutiveFailures = 0
  private circuit: GpuCapSnapshot['circuit'] = 'closed'
  private trial: Promise<void> | null = null
  private endTrial: (() => void) | null = null
  private inFlight = 0
  private slowStart: boolean
  private readonly slowStartStepMs: number
  /** Slow start's last raise (performance.now()), to keep its raises `slowStartStepMs` apart. */
  private slowStepAt = Number.NEGATIVE_INFINITY
  private firstProbe: ReturnType<typeof setTimeout> | null = null
  private lastCallAt: number | null = null
  private readonly counts = { calls: 0, ok: 0, overloads: 0, failures: 0, decreases: 0, circuitOpens: 0 }

  constructor(opts: GpuCapOptions) {
    this.max = opts.max
    this.min = opts.min ?? 1
    this.decreaseFactor = opts.decreaseFactor ?? 0.9
    this.increaseEveryMs = opts.increaseEveryMs ?? 1000
    this.probeBackoffMaxMs = Math.max(this.increaseEveryMs, opts.probeBackoffMaxMs ?? 30_000)
    this.probeEveryMs = this.increaseEveryMs
    this.circuitAfter = opts.circuitAfter ?? 10
    this.circuitOpenMs = opts.circuitOpenMs ?? 2000
    const start = Math.min(opts.max, Math.max(this.min, Math.floor(opts.start ?? opts.max)))
    this.limitF = start
    this.slowStart = (opts.slowStart ?? false) && start < opts.max
    this.slowStartStepMs = opts.slowStartStepMs ?? 0
    this.limiter = pLimit(start)
  }

  /** Run one call under the cap. Errors pass through after they have adjusted the cap. */
  run<T>(call: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return this.limiter(async () => {
      const isTrial = await this.gate(signal)
      this.inFlight++
      this.counts.calls++
      const startedAt = Date.now()
      this.lastCallAt = startedAt
      this.probeBeforeFirstAnswer()
      try {
        const out = await call()
        this.onSuccess(isTrial, startedAt)
        return out
      } catch (err) {
        // inFlight still counts this call: the service refused it with that many in flight.
        if (!signal.aborted && !(err instanceof AbortedError)) this.onError(err, isTrial, this.inFlight)
        else if (isTrial) this.finishTrial(false)
        throw err
      } finally {
        this.inFlight--
      }
    })
  }

  snapshot(): GpuCapSnapshot {
    return {
      limit: Math.floor(this.limitF),
      slowStart: this.slowStart,
      lastCallAt: this.lastCallAt,
      max: this.max,
      inFlight: this.inFlight,
      circuit: this.circuit,
      ...this.counts,
    }
  }

  /**
   * Slow start before the first answer: one step after a call starts, if the service has still
   * answered nothing and the limit is in use, raise it by one (the call that then starts arms
   * the next step). The first answer, a success or a refusal, ends this.
   */
  private probeBeforeFirstAnswer(): void {
    if (this.firstProbe !== null || this.slowStartStepMs <= 0 || !this.slowStart || this.answered()) return
    this.firstProbe = setTimeout(() => {
      this.firstProbe = null
      if (!this.slowStart || this.answered() || this.inFlight < Math.floor(this.limitF)) return
      this.slowStep()
    }, this.slowStartStepMs)
    // A probe pending keeps nothing alive.
    this.firstProbe.unref?.()
  }

  /** One step of slow start: the limit up by one, and slow start over at the maximum. */
  private slowStep(): void {
    this.slowStepAt = performance.now()
    this.setLimit(Math.floor(this.limitF) + 1)
    if (this.limitF >= this.max) this.slowStart = false
  }

  private answered(): boolean {
    return this.counts.ok + this.counts.overloads + this.counts.failures > 0
  }

  /** Wait while paused (Retry-After, open circuit). True when this caller is the half-open trial. */
  private async gate(signal: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal.aborted) throw new AbortedError('recognition call cancelled')
      const waitMs = this.pauseUntil - Date.now()
      if (waitMs > 0) {
        await sleep(waitMs, signal)
        continue
      }
      if (this.circuit === 'open') {
        this.circuit = 'half-open'
        this.trial = new Promise((resolve) => {
          this.endTrial = resolve
        })
        return true
      }
      if (this.circuit === 'half-open' && this.trial) {
        await Promise.race([this.trial, sleep(this.circuitOpenMs, signal)])
        continue
      }
      return false
    }
  }

  private onSuccess(isTrial: boolean, startedAt: number): void {
    this.counts.ok++
    this.consecutiveFailures = 0
    if (isTrial) this.finishTrial(true)
    const now = Date.now()
    if (this.probeAt !== null && startedAt >= this.probeAt) {
      // A call made after the last raise went through before any refusal: the service took the
      // raised limit, so it may take more; probe at the base pace again.
      this.probeAt = null
      this.probeEveryMs = this.increaseEveryMs
    }
    // Only a limit that is in use is worth raising; in slow start at such a success, a step at a time.
    const inUse = this.inFlight + 1 >= Math.floor(this.limitF)
    if (this.slowStart) {
      if (inUse && performance.now() - this.slowStepAt >= this.slowStartStepMs) this.slowStep()
      return
    }
    if (now - this.lastIncreaseAt >= this.probeEveryMs && inUse) {
      this.probeAt = now
      this.lastIncreaseAt = now
      this.setLimit(Math.floor(this.limitF) + 1)
    }
  }

  private onError(err: unknown, isTrial: boolean, inFlight: number): void {
    // What a recognizer error says about the service (other errors: a plain failure).
    const fb = err instanceof RecognizeError ? err : { overload: false, retryAfterMs: undefined }
    const now = Date.now()
    if (fb.overload) {
      this.counts.overloads++
      if (this.limitF <= this.min) this.consecutiveFailures++
      // A raise refused: the service is at its capacity, so probing it every period only costs
      // a refused call each time (one a second, for as long as the run lasts). Wait longer. The
      // refusal that ends slow start is one too: its last raise found the capacity.
      if (this.probeAt !== null || this.slowStart) {
        this.probeEveryMs = Math.min(this.probeBackoffMaxMs, this.probeEveryMs * 2)
      }
      // The first overload ends slow start: from here, gentle probing.
      this.slowStart = false
      this.probeAt = null
      const lowered = Math.min(this.limitF * this.decreaseFactor, inFlight - 1)
      if (lowered < this.limitF) {
        this.counts.decreases++
        this.setLimit(lowered)
        // Give the lowered limit a full period before probing upwards again.
        this.lastIncreaseAt = now
      }
    } else {
      this.counts.failures++
      this.consecutiveFailures++
    }
    if (fb.retryAfterMs && fb.retryAfterMs > 0)
      this.pauseUntil = Math.max(this.pauseUntil, now + fb.retryAfterMs)
    if (isTrial) this.finishTrial(false)
    else if (this.circuit === 'closed' && this.consecutiveFailures >= this.circuitAfter) this.openCircuit()
  }

  private finishTrial(ok: boolean): void {
    this.endTrial?.()
    this.trial = null
    this.endTrial = null
    if (ok) this.circuit = 'closed'
    else this.openCircuit()
  }

  private openCircuit(): void {
    this.circuit = 'open'
    this.counts.circuitOpens++
    this.pauseUntil = Math.max(this.pauseUntil, Date.now() + this.circuitOpenMs)
  }

  private setLimit(value: number): void {
    this.limitF = Math.min(this.max, Math.max(this.min, value))
    const whole = Math.max(this.min, Math.floor(this.limitF))
    if (this.limiter.concurrency !== whole) this.limiter.concurrency = whole
  }
}
