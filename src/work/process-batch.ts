import { setMaxListeners } from 'node:events'
import { normalizeSurface } from '../adapters/entities-tsv.js'
import type {
  Doc,
  DocFailure,
  DocResult,
  Mapper,
  PipelineObserver,
  Recognized,
  Recognizer,
  Sink,
} from '../core/contracts.js'
import { AbortedError, describeError, isNoSpace, RecognizeError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import type { Outages } from '../core/outages.js'
import { type RetryPolicy, retry } from '../core/retry.js'
import type { CallCap } from '../recognize/gpu-cap.js'
import { readBatchFile } from '../store/batch-file.js'
import { hasRoom } from '../store/disk.js'
import { type Layout, leftFile } from '../store/layout.js'
import { loadMilestone, saveMilestone } from '../store/milestone.js'
import { writeDead } from '../store/set-aside.js'

export interface PipelineDeps {
  layout: Layout
  /** Only the calls the pipeline makes: init and close belong to whoever built each part. */
  recognizer: Pick<Recognizer, 'kind' | 'recognize'>
  /** The process-wide adaptive cap on recognition calls in flight (at most LR_GPU_CONCURRENCY). */
  gpuCap: CallCap
  /** Reference data for the mapping stage (one lookup per batch). */
  mapper: Pick<Mapper, 'lookupMany'>
  sink: Pick<Sink, 'write' | 'recordFailures'>
  log: Logger
  /** Documents sent per recognition call. */
  docsPerCall: number
  /** Attempts per recognition call before its documents go to dead/ (an unreachable service does not use them up). */
  recognizeAttempts: number
  observer?: PipelineObserver
  /** Where outages of the entity service, the mapping table and the sink are reported (once each). */
  outages: Outages
}

/** A short label for a failed recognition call, for metrics. */
export function recognitionErrorKind(err: unknown): string {
  if (!(err instanceof RecognizeError)) return 'internal'
  if (err.tooLarge) return 'too_large'
  if (err.overload) return 'overload'
  if (typeof err.status === 'number') return `http_${err.status}`
  return 'network'
}

export interface BatchOutcome {
  docs: number
  ok: number
  failed: number
  /** Documents whose doc_id came again later in the batch: re-sends, the last one processed won. */
  repeats: number
  /** Documents recognised in this run (not taken from a milestone). */
  recognized: number
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/**
 * One recognition call under the GPU cap, retried with backoff and jitter while
 * the error is retryable. A call the service finds too large is split in two.
 * Resolves with what was recognised and, for documents that were not, the error.
 */
async function recognizeCall(
  deps: PipelineDeps,
  docs: Doc[],
  signal: AbortSignal,
): Promise<{ ok: Recognized[]; error?: string }> {
  const input = docs.map((d) => ({ doc_id: d.doc_id, text: d.text }))
  let attempts = 0
  try {
    const ok = await retry(
      'recognition call',
      async () => {
        attempts++
        const out = await deps.gpuCap.run(() => deps.recognizer.recognize(input, signal), signal)
        deps.outages.ok('entity service')
        return out
      },
      {
        attempts: Number.POSITIVE_INFINITY,
        baseMs: 200,
        capMs: 10_000,
        maxExponent: 6,
        retryable: (err) => {
          if (!(err instanceof RecognizeError) || !err.retryable || err.tooLarge) return false
          if (err.unreachable) {
            // Down is not the documents' fault: wait for it without using up their attempts.
            attempts--
            deps.outages.failed('entity service', err, 'recognition waits')
            return true
          }
          return attempts < deps.recognizeAttempts
        },
        minWaitMs: (err) => (err instanceof RecognizeError ? (err.retryAfterMs ?? 0) : 0),
        onRetry: ({ err }) => deps.observer?.recognitionError(recognitionErrorKind(err)),
      },
      signal,
    )
    return { ok }
  } catch (err) {
    if (err instanceof AbortedError || signal.aborted) throw err
    deps.observer?.recognitionError(recognitionErrorKind(err))
    if (err instanceof RecognizeError && err.tooLarge && docs.length > 1) {
      const half = Math.ceil(docs.length / 2)
      const parts = await Promise.all([
        recognizeCall(deps, docs.slice(0, half), signal),
        recognizeCall(deps, docs.slice(half), signal),
      ])
      const error = parts.find((p) => p.error)?.error
      return { ok: parts.flatMap((p) => p.ok), ...(error ? { error } : {}) }
    }
    // A bug (not a RecognizeError) is not retried, but still sets only these documents aside.
    return { ok: [], error: `${describeError(err)} (after ${attempts} attempt${attempts > 1 ? 's' : ''})` }
  }
}

/** A doc_id is compared byte for byte; when one comes again in a batch, the later document stands. */
function lastOfEachDocId(docs: Doc[]): Doc[] {
  const last = new Map<string, number>()
  docs.forEach((d, i) => {
    last.set(d.doc_id, i)
  })
  return last.size === docs.length ? docs : docs.filter((d, i) => last.get(d.doc_id) === i)
}

/**
 * Storage stages (mapping lookup, sink) are retried while their error says it
 * is transient, with the claim kept and heartbeated, until stopped. A permanent
 * error (a missing column, a bug) is thrown at once.
 */
function storagePolicy(deps: PipelineDeps, id: string, stage: 'mapping' | 'sink'): RetryPolicy {
  return {
    attempts: Number.POSITIVE_INFINITY,
    baseMs: 500,
    capMs: 10_000,
    maxExponent: 8,
    onRetry: ({ err, attempt, waitMs }) => {
      // The first failure of a batch says so; the outage itself is reported once for all batches.
      if (isNoSpace(err)) {
        deps.outages.failed('disk', err, 'batches keep their claims and wait')
        return
      }
      if (attempt === 1) deps.log.warn({ batch: id, stage, waitMs, err }, `${stage} failed; will retry`)
      deps.outages.failed(stage, err, 'batches keep their claims and wait')
    },
  }
}

/** Run a storage stage under its retry policy; a success ends its outage, if there was one. */
async function storing<T>(
  deps: PipelineDeps,
  id: string,
  stage: 'mapping' | 'sink',
  what: string,
  fn: () => Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  const out = await retry(`batch ${id}: ${what}`, fn, storagePolicy(deps, id, stage), signal)
  deps.outages.ok(stage)
  if (stage === 'sink' && deps.outages.isDown('disk') && (await hasRoom(deps.layout.root)))
    deps.outages.ok('disk')
  return out
}

/**
 * Read, verify, recognise, save the milestone, map and store one claimed batch.
 * Throws BatchCorruptError (set the file aside), AbortedError (release the claim),
 * or a MappingError / SinkError that is not retryable.
 */
export async function processBatch(
  deps: PipelineDeps,
  id: string,
  signal: AbortSignal,
  /** Called once, as the results go to the sink (the loop may then prepare its next batch). */
  onStoring: () => void = () => {},
): Promise<BatchOutcome> {
  const { layout, log } = deps
  const batch = await readBatchFile(leftFile(layout, id), id)
  const docs = lastOfEachDocId(batch.docs)
  const repeats = batch.docs.length - docs.length
  if (repeats > 0) {
    log.info(
      { batch: id, repeats },
      'batch carried a repeated doc_id: a re-send; the last one processed wins',
    )
  }
  const recognized = await loadMilestone(layout, id, deps.recognizer.kind)
  const todo = docs.filter((d) => !recognized.has(d.doc_id))
  const failures = new Map<string, string>()

  const chunks = chunk(todo, deps.docsPerCall)
  // Each call listens on the batch's signal until it settles (the client's cancel, a retry's
  // wait): a batch of 500 documents is 32 at once, which Node would report as a leak.
  setMaxListeners(chunks.length * 2 + 10, signal)
  const calls = chunks.map(async (docs) => {
    const { ok, error } = await recognizeCall(deps, docs, signal)
    for (const r of ok) recognized.set(r.doc_id, r)
    for (const d of docs) {
      if (!recognized.has(d.doc_id))
        failures.set(d.doc_id, error ?? 'recognizer returned no result for this document')
    }
  })
  await Promise.all(calls)
  if (signal.aborted) throw new AbortedError(`batch ${id}: stopped before it finished`)
  if (todo.length > 0 && deps.recognizer.kind !== 'none') {
    // Milestones save GPU time; they are not the record. A full disk must not throw recognition away.
    await saveMilestone(layout, id, deps.recognizer.kind, [...recognized.values()]).catch((err: unknown) => {
      if (isNoSpace(err)) deps.outages.failed('disk', err, 'milestones are skipped and new claims wait')
      else log.warn({ batch: id, err }, 'milestone not saved; the batch goes on to the sink')
    })
  }

  // Map: the service's mapping is of record; one lookup for every surface it left unmapped.
  const surfaces = new Set<string>()
  for (const r of recognized.values()) {
    r.entities.forEach((e, i) => {
      if ((r.mapped?.[i] ?? null) === null) surfaces.add(e.text)
    })
  }
  const ids = await storing(deps, id, 'mapping', 'mapping', () => deps.mapper.lookupMany(surfaces), signal)
  const results: DocResult[] = []
  for (const doc of docs) {
    const r = recognized.get(doc.doc_id)
    if (!r) continue
    results.push({
      doc_id: doc.doc_id,
      batch_id: id,
      entities: r.entities,
      mapped: r.entities.map((e, i) => ({
        text: e.text,
        type: e.type,
        id: r.mapped?.[i] ?? ids.get(normalizeSurface(e.text)) ?? null,
      })),
    })
  }

  if (failures.size > 0) {
    const list: DocFailure[] = []
    for (const doc of docs) {
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
    await storing(deps, id, 'sink', 'recording failures', () => deps.sink.recordFailures(list), signal)
  }

  onStoring()
  await storing(
    deps,
    id,
    'sink',
    'storing results',
    async () => {
      const t0 = performance.now()
      await deps.sink.write(id, results)
      deps.observer?.stored(results.length, (performance.now() - t0) / 1000)
    },
    signal,
  )
  return {
    docs: batch.docs.length,
    ok: results.length,
    failed: failures.size,
    repeats,
    recognized: todo.length,
  }
}
