import { describeError, ErrorCodes, isLrError, LrError } from '../errors.js'
import { backoffMs, sleep } from '../lifecycle/sleep.js'
import type { Logger } from '../log.js'
import type { DocFailure, Sink } from '../sink/types.js'
import { type Doc, readBatchFile } from '../spool/batch-file.js'
import { type Layout, leftFile } from '../spool/layout.js'
import { writeDead } from '../spool/set-aside.js'
import { normalizeSurface } from './dictionary.js'
import type { GpuCap } from './gpu-cap.js'
import type { RecognizeErrorContext } from './http-recognizer.js'
import type { Mapper } from './mapper.js'
import { loadMilestone, saveMilestone } from './milestone.js'
import type { DocResult, PipelineObserver, Recognized, Recognizer } from './types.js'

export interface PipelineDeps {
  layout: Layout
  recognizer: Recognizer
  /** The process-wide adaptive cap on recognition calls in flight (at most LR_GPU_CONCURRENCY). */
  gpuCap: GpuCap
  /** Reference data for the mapping stage (one lookup per batch). */
  mapper: Mapper
  sink: Sink
  log: Logger
  /** Documents sent per recognition call. */
  docsPerCall: number
  /** Attempts per recognition call before its documents go to dead/. */
  recognizeAttempts: number
  observer?: PipelineObserver
}

/** A short label for a failed recognition call, for metrics. */
export function recognitionErrorKind(err: unknown): string {
  if (!isLrError(err)) return 'internal'
  const ctx = err.context as RecognizeErrorContext
  if (ctx.tooLarge) return 'too_large'
  if (ctx.overload) return 'overload'
  if (typeof ctx.status === 'number') return `http_${ctx.status}`
  return err.code === ErrorCodes.recognize ? 'network' : 'internal'
}

export interface BatchOutcome {
  docs: number
  ok: number
  failed: number
  /** Documents recognised in this run (not taken from a milestone). */
  recognized: number
}

function aborted(id: string): LrError {
  return new LrError(ErrorCodes.aborted, `batch ${id}: stopped before it finished`)
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/**
 * One recognition call under the GPU cap, retried with backoff and jitter while
 * the error is retryable. A call the service finds too large is split in two.
 */
async function recognizeCall(
  deps: PipelineDeps,
  docs: Doc[],
  signal: AbortSignal,
): Promise<{ ok: Recognized[]; error?: string }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const input = docs.map((d) => ({ doc_id: d.doc_id, text: d.text }))
      return { ok: await deps.gpuCap.run(() => deps.recognizer.recognize(input, signal), signal) }
    } catch (err) {
      if (signal.aborted || isLrError(err, ErrorCodes.aborted)) throw err
      deps.observer?.recognitionError(recognitionErrorKind(err))
      if (isLrError(err) && (err.context as RecognizeErrorContext).tooLarge && docs.length > 1) {
        const half = Math.ceil(docs.length / 2)
        const parts = await Promise.all([
          recognizeCall(deps, docs.slice(0, half), signal),
          recognizeCall(deps, docs.slice(half), signal),
        ])
        const error = parts.find((p) => p.error)?.error
        return { ok: parts.flatMap((p) => p.ok), ...(error ? { error } : {}) }
      }
      const retryable = !isLrError(err) || err.retryable
      if (!retryable || attempt + 1 >= deps.recognizeAttempts) {
        return { ok: [], error: `${describeError(err)} (after ${attempt + 1} attempt${attempt ? 's' : ''})` }
      }
      const retryAfterMs = isLrError(err) ? ((err.context as RecognizeErrorContext).retryAfterMs ?? 0) : 0
      await sleep(Math.max(retryAfterMs, backoffMs(attempt, 200, 10_000)), signal)
    }
  }
}

/** Run a sink call, retrying retryable errors (claim kept, heartbeat going) until stopped. */
async function withSinkRetry(
  deps: PipelineDeps,
  id: string,
  signal: AbortSignal,
  call: () => Promise<void>,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    if (signal.aborted) throw aborted(id)
    try {
      await call()
      return
    } catch (err) {
      if (isLrError(err) && !err.retryable) throw err
      const waitMs = backoffMs(Math.min(attempt, 8), 500, 30_000)
      deps.log.warn(
        { batch: id, attempt: attempt + 1, waitMs, err: describeError(err) },
        'sink failed; will retry',
      )
      await sleep(waitMs, signal)
    }
  }
}

/**
 * Read, verify, recognise, save the milestone, map and store one claimed batch.
 * Throws LR_BATCH_CORRUPT (set the file aside), LR_ABORTED (release the claim)
 * or a sink error that is not retryable.
 */
export async function processBatch(
  deps: PipelineDeps,
  id: string,
  signal: AbortSignal,
): Promise<BatchOutcome> {
  const { layout, log } = deps
  const batch = await readBatchFile(leftFile(layout, id), id)
  const recognized = await loadMilestone(layout, id, deps.recognizer.kind)
  const todo = batch.docs.filter((d) => !recognized.has(d.doc_id))
  const failures = new Map<string, string>()

  const calls = chunk(todo, deps.docsPerCall).map(async (docs) => {
    const { ok, error } = await recognizeCall(deps, docs, signal)
    for (const r of ok) recognized.set(r.doc_id, r)
    for (const d of docs) {
      if (!recognized.has(d.doc_id))
        failures.set(d.doc_id, error ?? 'recognizer returned no result for this document')
    }
  })
  await Promise.all(calls)
  if (signal.aborted) throw aborted(id)
  if (todo.length > 0 && deps.recognizer.kind !== 'none') {
    await saveMilestone(layout, id, deps.recognizer.kind, [...recognized.values()])
  }

  // Map: one lookup for every surface of the batch (retried like the sink: it may be the same database).
  const surfaces = new Set<string>()
  for (const r of recognized.values()) for (const e of r.entities) surfaces.add(e.text)
  let ids = new Map<string, string | null>()
  await withSinkRetry(deps, id, signal, async () => {
    ids = await deps.mapper.lookupMany(surfaces)
  })
  const results: DocResult[] = []
  for (const doc of batch.docs) {
    const r = recognized.get(doc.doc_id)
    if (!r) continue
    results.push({
      doc_id: doc.doc_id,
      batch_id: id,
      entities: r.entities,
      mapped: r.entities.map((e) => ({
        text: e.text,
        type: e.type,
        id: ids.get(normalizeSurface(e.text)) ?? null,
      })),
    })
  }

  if (failures.size > 0) {
    const list: DocFailure[] = []
    for (const doc of batch.docs) {
      const error = failures.get(doc.doc_id)
      if (error === undefined) continue
      await writeDead(layout, { stage: 'recognize', reason: error, doc_id: doc.doc_id, batch: id, item: doc })
      log.warn({ batch: id, doc: doc.doc_id, reason: error }, 'document set aside in dead/')
      list.push({
        doc_id: doc.doc_id,
        batch_id: id,
        stage: 'recognize',
        error,
        attempts: deps.recognizeAttempts,
      })
    }
    await withSinkRetry(deps, id, signal, () => deps.sink.recordFailures(list))
  }

  await withSinkRetry(deps, id, signal, async () => {
    const t0 = performance.now()
    await deps.sink.write(id, results)
    deps.observer?.stored(results.length, (performance.now() - t0) / 1000)
  })
  return { docs: batch.docs.length, ok: results.length, failed: failures.size, recognized: todo.length }
}
