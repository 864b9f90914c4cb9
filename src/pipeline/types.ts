import type { Doc } from '../spool/batch-file.js'

/**
 * Glossary
 * - recognise: find entity mentions in a document's text (the expensive, GPU-bound step).
 * - map: give each mention a canonical id from reference data (or null when unknown).
 * - store: hand a batch's results to the sink (files or MySQL).
 */
export type EntityType = 'PER' | 'LOC' | 'ORG' | 'MISC'

export interface Entity {
  text: string
  type: EntityType
  /** UTF-16 offsets into the document text. */
  start: number
  end: number
  source: 'dict' | 'rule' | 'service'
}

export interface Recognized {
  doc_id: string
  entities: Entity[]
}

export interface MappedEntity {
  text: string
  type: EntityType
  id: string | null
}

export interface DocResult {
  doc_id: string
  batch_id: string
  entities: Entity[]
  mapped: MappedEntity[]
}

export interface Recognizer {
  readonly kind: string
  /** Recognise entities in a few documents (one "call"). Rejects on failure of the whole call. */
  recognize(docs: Pick<Doc, 'doc_id' | 'text'>[], signal: AbortSignal): Promise<Recognized[]>
  close(): Promise<void>
}

/** Hooks for metrics: what the pipeline did, as it happens. All optional to observe. */
export interface PipelineObserver {
  /** A recognition call failed (it may be retried): `overload`, `too_large`, `http_500`, `network`, ... */
  recognitionError(kind: string): void
  /** A batch's results were committed to the sink. */
  stored(rows: number, seconds: number): void
  batchDone(ok: number, failed: number): void
}
