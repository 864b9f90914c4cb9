import type { Logger } from '../core/log.js'
import type { Outages } from '../core/outages.js'
import { percentRead, type WriterProgress } from '../store/writers.js'
import type { WorkerPool } from './pool.js'

/** What the pool has done since the last line. */
export interface WorkProgress {
  batches: number
  docs: number
  docsPerSecond: number
  pending: number
  active: number
}

/** One progress line: the work, what it waits on, and how far `start FILE` has read its input. */
export function progressLine(
  work: WorkProgress,
  waitingOn: string[],
  input: WriterProgress | null,
): { fields: Record<string, unknown>; msg: string } {
  let msg = `progress: ${work.batches} batches, ${work.docs} documents done; ${work.pending} batches waiting`
  if (waitingOn.length) msg += `; waiting on: ${waitingOn.join(', ')}`
  if (input) {
    const written = `${input.docs} documents in ${input.batches} batches`
    const share = percentRead(input)
    msg += share !== null ? `; input ${share}% read (${written})` : `; input: ${written} read so far`
  }
  return {
    fields: { ...work, ...(waitingOn.length ? { waitingOn } : {}), ...(input ? { input } : {}) },
    msg,
  }
}

/**
 * A progress line every few seconds while there is work, and one when the backlog is empty.
 * `input`: how far `start FILE` has read its files (null when it is not reading).
 */
export function startProgress(
  pool: WorkerPool,
  log: Logger,
  outages: Outages,
  opts: { everyMs?: number; input?: () => WriterProgress | null } = {},
): () => void {
  let lastDocs = 0
  let lastAt = Date.now()
  let idleSaid = false
  const timer = setInterval(() => {
    const s = pool.stats
    const docs = s.docsOk + s.docsFailed
    const now = Date.now()
    const pending = pool.queue.pendingEstimate
    const input = opts.input?.() ?? null
    if (docs !== lastDocs || s.active > 0 || pending > 0 || input) {
      const rate = ((docs - lastDocs) * 1000) / Math.max(1, now - lastAt)
      // When nothing moves, say why.
      const waitingOn = Object.keys(outages.snapshot())
      const line = progressLine(
        { batches: s.batchesDone, docs, docsPerSecond: Math.round(rate), pending, active: s.active },
        waitingOn,
        input,
      )
      log.info(line.fields, line.msg)
      idleSaid = false
    } else if (!idleSaid) {
      log.info({ batches: s.batchesDone, docs }, 'idle: waiting for new batches in left/ (Ctrl-C to stop)')
      idleSaid = true
    }
    lastDocs = docs
    lastAt = now
  }, opts.everyMs ?? 5000)
  timer.unref()
  return () => clearInterval(timer)
}
