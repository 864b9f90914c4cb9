/** An AbortController that also aborts when its parent signal does, until it is disposed. */
export interface ChildAbort {
  readonly signal: AbortSignal
  /** Abort this one alone (the parent goes on). */
  abort(reason?: unknown): void
  /** Stop following the parent (its listener goes); idempotent. */
  dispose(): void
}

/**
 * What `AbortSignal.any([parent, own])` gives, for a signal that lives a short while under a
 * long-lived parent (a batch under the pool's). In Node 20 `AbortSignal.any` keeps a weak
 * reference to each result in the parent, cleared by a finalizer; alone it cost ~20 us where a
 * listener costs ~5 us. In the sink-bound job the difference was within the noise
 * (bench/RESULTS.md, fourteenth session). It aborts with the parent's reason, at once if the
 * parent has aborted already.
 */
export function childAbort(parent: AbortSignal): ChildAbort {
  const controller = new AbortController()
  const follow = (): void => controller.abort(parent.reason)
  if (parent.aborted) follow()
  else parent.addEventListener('abort', follow, { once: true })
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    dispose: () => parent.removeEventListener('abort', follow),
  }
}
