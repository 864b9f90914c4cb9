import type { DocResult } from '../pipeline/types.js'

export interface DocFailure {
  doc_id: string
  batch_id: string
  stage: string
  error: string
  attempts: number
}

/**
 * Where results go. `write` stores a whole batch atomically (all rows or none)
 * and is idempotent: writing a batch twice leaves one result per document.
 * Errors with `retryable: true` are retried by the caller with the claim kept.
 */
export interface Sink {
  readonly kind: string
  init(): Promise<void>
  write(batchId: string, results: DocResult[]): Promise<void>
  recordFailures(failures: DocFailure[]): Promise<void>
  close(): Promise<void>
}
