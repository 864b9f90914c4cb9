import { createHash, randomBytes } from 'node:crypto'
import { rename } from 'node:fs/promises'
import { hostname } from 'node:os'
import { writeFileAtomic } from './atomic.js'
import { badFile, badReasonFile, deadFile, type Layout, leftFile } from './layout.js'
import { dropForSetAside } from './markers.js'

/**
 * Where things that cannot be processed go, with their reason beside them.
 * bad/:  whole batch files that failed to decode or verify (or poisoned a worker).
 * dead/: single documents or input lines, one JSON file each.
 */
export interface BadReason {
  batch: string
  reason: string
  code: string
  at: string
  host: string
  pid: number
  history?: unknown[]
}

export async function moveBatchToBad(
  layout: Layout,
  id: string,
  reason: string,
  code: string,
  history?: unknown[],
): Promise<void> {
  const record: BadReason = {
    batch: id,
    reason,
    code,
    at: new Date().toISOString(),
    host: hostname(),
    pid: process.pid,
    ...(history ? { history } : {}),
  }
  await writeFileAtomic(badReasonFile(layout, id), `${JSON.stringify(record, null, 2)}\n`)
  await rename(leftFile(layout, id), badFile(layout, id))
  // The batch is no longer claimable, so its marker (if it had one) goes too.
  await dropForSetAside(layout, id)
}

export interface DeadEntry {
  /** Where the item came from: `enqueue`, `kafka`, `recognize`, ... */
  stage: string
  reason: string
  doc_id?: string
  batch?: string
  source?: Record<string, unknown>
  /**
   * One shape for every stage: `item` is the document ({doc_id, text, ...}) when there was one
   * (recognition failed, a poison document); `raw` is the input that was not a document (an
   * enqueue line, a Kafka message in base64), a prefix only when large (see rawInput).
   */
  item?: { doc_id: string; text: string; [extra: string]: unknown }
  raw?: string
  encoding?: 'utf8' | 'base64'
  /** Put-back history, for a document that poisoned its process. */
  history?: unknown[]
  /** Size and sha256 of the whole raw input, when `item` holds only its prefix. */
  bytes?: number
  sha256?: string
}

/** Raw input longer than this is kept as a prefix, with its size and hash. */
export const RAW_KEEP_BYTES = 10_000

/** A raw input line or message for dead/: whole when small; a prefix, its size and sha256 when large. */
export function rawInput(
  raw: string | Buffer,
  encoding: 'utf8' | 'base64' = 'utf8',
): Pick<DeadEntry, 'raw' | 'encoding' | 'bytes' | 'sha256'> {
  const buf = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw
  if (buf.length <= RAW_KEEP_BYTES) return { raw: buf.toString(encoding), encoding }
  return {
    raw: buf.subarray(0, RAW_KEEP_BYTES).toString(encoding),
    encoding,
    bytes: buf.length,
    sha256: createHash('sha256').update(buf).digest('hex'),
  }
}

export async function writeDead(layout: Layout, entry: DeadEntry): Promise<string> {
  const file = deadFile(layout, `${Date.now()}-${entry.stage}-${randomBytes(4).toString('hex')}.json`)
  const record = { ...entry, at: new Date().toISOString(), host: hostname(), pid: process.pid }
  await writeFileAtomic(file, `${JSON.stringify(record)}\n`)
  return file
}
