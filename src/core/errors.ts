/**
 * Every error leftright raises on purpose is a class with a stable `code`,
 * typed fields and `retryable` (can trying again help?). Callers decide by
 * `instanceof` and these fields, never by message text or a context bag.
 * Log them as objects (`log.warn({ err }, 'what failed')`) so stack and cause survive.
 */
export const ErrorCodes = {
  config: 'LR_CONFIG',
  usage: 'LR_USAGE',
  batchCorrupt: 'LR_BATCH_CORRUPT',
  claimLost: 'LR_CLAIM_LOST',
  recognize: 'LR_RECOGNIZE',
  mapping: 'LR_MAPPING',
  sink: 'LR_SINK',
  aborted: 'LR_ABORTED',
  handoff: 'LR_HANDOFF',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

export abstract class LrError extends Error {
  abstract readonly code: ErrorCode
  readonly retryable: boolean

  constructor(message: string, opts: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.retryable = opts.retryable ?? false
  }

  override get name(): string {
    return this.constructor.name
  }
}

/** A wrong setting: exit 2 with the message. */
export class ConfigError extends LrError {
  readonly code = ErrorCodes.config
}

/** A wrong command line: exit 2 with the message. */
export class UsageError extends LrError {
  readonly code = ErrorCodes.usage
}

/** A batch file that does not decode or verify. */
export class BatchCorruptError extends LrError {
  readonly code = ErrorCodes.batchCorrupt
  constructor(
    readonly batch: string,
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`batch ${batch}: ${reason}`, { cause })
  }
}

/** The marker on disk is no longer this claim (the janitor put the batch back). */
export class ClaimLostError extends LrError {
  readonly code = ErrorCodes.claimLost
  constructor(
    readonly batch: string,
    action: string,
  ) {
    super(`batch ${batch}: claim was taken back before ${action}`)
  }
}

/** Work stopped on purpose (shutdown); not a failure. */
export class AbortedError extends LrError {
  readonly code = ErrorCodes.aborted
}

export interface RecognizeErrorFields {
  /** HTTP status of the answer, when there was one. */
  status?: number
  /** The service is over capacity: the GPU cap should come down. */
  overload?: boolean
  /** The service asked to wait this long (Retry-After). */
  retryAfterMs?: number
  /** The call was too large for the service: split it. */
  tooLarge?: boolean
  /** No connection could be made: the service is down (an outage, not the documents' fault). */
  unreachable?: boolean
}

/** A recognition call failed as a whole. */
export class RecognizeError extends LrError {
  readonly code = ErrorCodes.recognize
  readonly status: number | undefined
  readonly overload: boolean
  readonly retryAfterMs: number | undefined
  readonly tooLarge: boolean
  readonly unreachable: boolean

  constructor(message: string, opts: RecognizeErrorFields & { retryable: boolean; cause?: unknown }) {
    super(message, opts)
    this.status = opts.status
    this.overload = opts.overload ?? false
    this.retryAfterMs = opts.retryAfterMs
    this.tooLarge = opts.tooLarge ?? false
    this.unreachable = opts.unreachable ?? false
  }
}

/** A database or file error from a stage that talks to storage: the sink, or the mapping lookup. */
abstract class StorageError extends LrError {
  /** The driver's or the system's error code (ER_BAD_FIELD_ERROR, ECONNREFUSED, ENOSPC, ...). */
  readonly driverCode: string | undefined
  constructor(message: string, opts: { retryable: boolean; cause?: unknown; driverCode?: string }) {
    super(message, opts)
    this.driverCode = opts.driverCode
  }
}

/** Storing results (or failures) failed. */
export class SinkError extends StorageError {
  readonly code = ErrorCodes.sink
}

/** Looking up canonical ids failed. */
export class MappingError extends StorageError {
  readonly code = ErrorCodes.mapping
}

export class HandoffError extends LrError {
  readonly code = ErrorCodes.handoff
}

export function isLrError(err: unknown, code?: ErrorCode): err is LrError {
  return err instanceof LrError && (code === undefined || err.code === code)
}

/** The errno / driver code of any thrown value (ENOENT, ER_DUP_ENTRY, ...), if it has one. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** The disk (or quota) is full: wait for space, it is no one's fault. */
export function isNoSpace(err: unknown): boolean {
  const code = errnoCode(err) ?? (err instanceof StorageError ? err.driverCode : undefined)
  if (code === 'ENOSPC' || code === 'EDQUOT') return true
  return err instanceof Error && err.cause !== undefined && isNoSpace(err.cause)
}

/** True for an ENOENT: the thing was already gone, which is often expected. */
export const isNotFound = (err: unknown): boolean => errnoCode(err) === 'ENOENT'

/**
 * A one-line description of any thrown value, for what is written to disk
 * (dead/ and bad/ reasons, doc_failures). Logs take the error object instead.
 */
export function describeError(err: unknown): string {
  if (err instanceof LrError) return `${err.code}: ${err.message}`
  if (err instanceof Error) {
    const code = errnoCode(err)
    return code ? `${code}: ${err.message}` : err.message
  }
  return String(err)
}
