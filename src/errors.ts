/**
 * Every error leftright raises on purpose carries a stable `code` and whether
 * retrying can help. Callers decide by these fields, never by message text.
 */
export const ErrorCodes = {
  config: 'LR_CONFIG',
  usage: 'LR_USAGE',
  batchCorrupt: 'LR_BATCH_CORRUPT',
  badInput: 'LR_BAD_INPUT',
  claimLost: 'LR_CLAIM_LOST',
  recognize: 'LR_RECOGNIZE',
  sink: 'LR_SINK',
  aborted: 'LR_ABORTED',
  handoff: 'LR_HANDOFF',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

export interface LrErrorOptions {
  cause?: unknown
  retryable?: boolean
  context?: Record<string, unknown>
}

export class LrError extends Error {
  readonly code: ErrorCode
  readonly retryable: boolean
  readonly context: Record<string, unknown>

  constructor(code: ErrorCode, message: string, options: LrErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'LrError'
    this.code = code
    this.retryable = options.retryable ?? false
    this.context = options.context ?? {}
  }
}

export function isLrError(err: unknown, code?: ErrorCode): err is LrError {
  return err instanceof LrError && (code === undefined || err.code === code)
}

/** A short one-line description of any thrown value, for logs and reason files. */
export function describeError(err: unknown): string {
  if (err instanceof LrError) return `${err.code}: ${err.message}`
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code
    return code ? `${code}: ${err.message}` : err.message
  }
  return String(err)
}
