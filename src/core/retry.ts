import { AbortedError, LrError } from './errors.js'
import { backoffMs, sleep } from './sleep.js'

/**
 * One retry loop for the whole code base; the policy says how it behaves.
 * Defaults: only errors that say `retryable: true` are retried (a TypeError is
 * a bug, never retried), with exponential backoff and full jitter.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included; `Infinity` retries until the signal aborts. */
  attempts: number
  /** Backoff of attempt n: random in [0, min(capMs, baseMs * 2^n)]. */
  baseMs?: number
  capMs?: number
  /** The backoff exponent stops growing here (so a long outage keeps probing every few seconds). */
  maxExponent?: number
  /** Worth another attempt? Default: `err instanceof LrError && err.retryable`. */
  retryable?: (err: unknown) => boolean
  /** At least this long before the next attempt (a Retry-After the error carries). */
  minWaitMs?: (err: unknown) => number
  /** Told before each wait: log here. */
  onRetry?: (info: { err: unknown; attempt: number; waitMs: number }) => void
  /** How to wait (default: an abortable sleep); e.g. a wait that keeps a Kafka session alive. */
  wait?: (waitMs: number, signal?: AbortSignal) => Promise<void>
}

export const isRetryable = (err: unknown): boolean => err instanceof LrError && err.retryable

/**
 * Run `fn` until it succeeds, the error is not retryable, attempts run out (the
 * last error is thrown), or `signal` aborts (AbortedError, naming `what`).
 */
export async function retry<T>(
  what: string,
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  signal?: AbortSignal,
): Promise<T> {
  const retryable = policy.retryable ?? isRetryable
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw new AbortedError(`${what}: stopped before it finished`)
    try {
      return await fn(attempt)
    } catch (err) {
      if (signal?.aborted) throw new AbortedError(`${what}: stopped before it finished`, { cause: err })
      if (!retryable(err) || attempt + 1 >= policy.attempts) throw err
      const exp = Math.min(attempt, policy.maxExponent ?? 30)
      const waitMs = Math.max(policy.minWaitMs?.(err) ?? 0, backoffMs(exp, policy.baseMs, policy.capMs))
      policy.onRetry?.({ err, attempt: attempt + 1, waitMs })
      await (policy.wait ?? sleep)(waitMs, signal)
    }
  }
}
