import type { Logger } from '../core/log.js'
import type { Outages } from '../core/outages.js'
import type { WorkerPool } from './pool.js'

/** A progress line every few seconds while there is work, and one when the backlog is empty. */
export function startProgress(pool: WorkerPool, log: Logger, outages: Outages, everyMs = 5000): () => void {
  let lastDocs = 0
  let lastAt = Date.now()
  let idleSaid = false
  const timer = setInterval(() => {
    const s = pool.stats
    const docs = s.docsOk + s.docsFailed
    const now = Date.now()
    const pending = pool.queue.pendingEstimate
    if (docs !== lastDocs || s.active > 0 || pending > 0) {
      const rate = ((docs - lastDocs) * 1000) / Math.max(1, now - lastAt)
      // When nothing moves, say why.
      const waitingOn = Object.keys(outages.snapshot())
      log.info(
        {
          batches: s.batchesDone,
          docs,
          docsPerSecond: Math.round(rate),
          pending,
          active: s.active,
          ...(waitingOn.length ? { waitingOn } : {}),
        },
        `progress: ${s.batchesDone} batches, ${docs} documents done; ${pending} batches waiting` +
          (waitingOn.length ? `; waiting on: ${waitingOn.join(', ')}` : ''),
      )
      idleSaid = false
    } else if (!idleSaid) {
      log.info({ batches: s.batchesDone, docs }, 'idle: waiting for new batches in left/ (Ctrl-C to stop)')
      idleSaid = true
    }
    lastDocs = docs
    lastAt = now
  }, everyMs)
  timer.unref()
  return () => clearInterval(timer)
}
