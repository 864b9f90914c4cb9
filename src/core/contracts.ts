/**
 * The types every stage shares. Nothing here imports anything: this is the bottom.
 *
 * Glossary
 * - left/: batch files waiting (`left/<id>.msgpack`, a short-uuid id). Writers write a
 *   dot-temp name and rename, so a name without a leading dot is always whole.
 * - right/: one marker per batch taken (`right/<id>`, small JSON). Creating it with
 *   exclusive create is the claim: whoever creates it owns the batch.
 * - marker: the JSON in right/<id>: `claimed`, `done` or `handed-off`, who, when, counts.
 * - pending: a batch file in left/ without a marker.
 * - claim: a `claimed` marker; its mtime is the heartbeat. Stale: the heartbeat is older
 *   than LR_STALE_MS, or its owner pid on this host is gone.
 * - put-back: the janitor removes a stale claim's marker so the batch is pending again.
 * - milestone: `milestones/<id>.msgpack`, a batch's recognition output saved before
 *   mapping and insert, so a retry skips the GPU step.
 * - handoff: a batch reserved with a `handed-off` marker, copied to another box, deleted here.
 * - ledger: `state/ledger/YYYY-MM-DD.jsonl`, done markers compacted by the janitor.
 * - dead/: single documents (or input lines, messages) set aside with the reason.
 * - bad/: whole batch files that fail to decode or verify, set aside with the reason.
 * - recognise: find entity mentions in a document's text (the expensive, GPU-bound step).
 * - map: give each mention a canonical id from reference data (or null when unknown).
 * - store / sink: hand a batch's results to where results live (files, MySQL).
 * - source / feed: where documents come from (JSONL, Kafka, a MySQL table) into left/.
 */

/** A document: `doc_id` (opaque, compared byte for byte) and `text`, plus fields kept as they are. */
export interface Doc {
  doc_id: string
  text: string
  [extra: string]: unknown
}

export type EntityType = 'PER' | 'LOC' | 'ORG' | 'MISC'

export interface Entity {
  text: string
  type: EntityType
  /** UTF-16 offsets into the document text (-1 when unknown). */
  start: number
  end: number
  source: 'dict' | 'rule' | 'service'
}

export interface Recognized {
  doc_id: string
  entities: Entity[]
  /**
   * The service's canonical id of each entity (aligned with `entities`; null where it gave none),
   * when it returned a mapping (`maaped_ent` / `mapped_ent`). That is the mapping of record.
   */
  mapped?: (string | null)[]
}

export interface MappedEntity {
  text: string
  type: EntityType
  id: string | null
}

/** One document's result, as a sink stores it. */
export interface DocResult {
  doc_id: string
  batch_id: string
  entities: Entity[]
  mapped: MappedEntity[]
}

/** A document that could not be processed, as a sink records it. */
export interface DocFailure {
  doc_id: string
  batch_id: string
  stage: string
  error: string
  attempts: number
}

export interface Recognizer {
  readonly kind: string
  /** Recognise entities in a few documents (one "call"). Rejects (RecognizeError) on failure of the whole call. */
  recognize(docs: Pick<Doc, 'doc_id' | 'text'>[], signal: AbortSignal): Promise<Recognized[]>
  close(): Promise<void>
}

/**
 * The mapping stage's reference data: surface form -> canonical id. One call
 * per batch with every surface the batch recognised; unknown surfaces map to null.
 */
export interface Mapper {
  readonly kind: 'tsv' | 'mysql' | 'service'
  init(): Promise<void>
  /** Keys of the result are the normalised surfaces (see normalizeSurface). Rejects with MappingError. */
  lookupMany(surfaces: Iterable<string>): Promise<Map<string, string | null>>
  close(): Promise<void>
}

/**
 * Where results go. `write` stores a whole batch atomically (all rows or none)
 * and is idempotent: writing a batch twice leaves one result per document.
 * Rejects with SinkError; `retryable` ones are retried with the claim kept.
 */
export interface Sink {
  readonly kind: string
  init(): Promise<void>
  write(batchId: string, results: DocResult[]): Promise<void>
  recordFailures(failures: DocFailure[]): Promise<void>
  close(): Promise<void>
}

/** Hooks for metrics: what the pipeline did, as it happens. */
export interface PipelineObserver {
  /** A recognition call failed (it may be retried): `overload`, `too_large`, `http_500`, `network`, ... */
  recognitionError(kind: string): void
  /** A batch's results were committed to the sink. */
  stored(rows: number, seconds: number): void
  batchDone(ok: number, failed: number): void
}

/**
 * A long-running part (worker pool, janitor, prefetcher, status server): start()
 * once, stop() idempotent and safe to call again while stopping. The command's
 * wiring constructs parts and stops them in reverse (Releasers).
 */
export interface Service {
  start(): Promise<void>
  stop(): Promise<void>
}
