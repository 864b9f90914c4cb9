import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { Packr, unpackMultiple } from 'msgpackr'
import type { Doc } from '../core/contracts.js'
import { BatchCorruptError, isNotFound } from '../core/errors.js'
import { writeFileAtomic } from './atomic.js'

/**
 * Batch file format, version 1: two msgpack values back to back.
 *   1. header: { format: 'leftright.batch', v: 1, id, docs, bytes, sha256, createdAt, source? }
 *   2. payload: an array of documents { doc_id, text, ...extra }
 * `bytes` and `sha256` cover the payload's encoded bytes, so a truncated or
 * bit-flipped file is detected before any document is processed, and the header
 * alone (the first few hundred bytes) answers "how many documents" cheaply.
 */
export const BATCH_FORMAT = 'leftright.batch'
export const BATCH_VERSION = 1

export interface BatchHeader {
  format: typeof BATCH_FORMAT
  v: number
  id: string
  docs: number
  bytes: number
  sha256: string
  createdAt: string
  source?: string
}

export interface Batch {
  header: BatchHeader
  docs: Doc[]
}

// Plain maps (no records extension) so any msgpack decoder reads the file.
const packr = new Packr({ useRecords: false, moreTypes: false })

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

export function encodeBatch(id: string, docs: Doc[], source?: string): Buffer {
  const payload = packr.pack(docs)
  return frame(id, [payload], payload.length, docs.length, source)
}

/** One document as it stands in a payload (see encodeBatchPacked). */
export function packDoc(doc: Doc): Buffer {
  return packr.pack(doc)
}

/**
 * A batch file from its documents already packed one after another (packDoc, or the
 * prefetcher's JSON transcoder): the payload is the array header, then these bytes.
 */
export function encodeBatchPacked(id: string, packedDocs: Uint8Array, docs: number, source?: string): Buffer {
  const head = arrayHeader(docs)
  return frame(id, [head, packedDocs], head.length + packedDocs.length, docs, source)
}

function arrayHeader(n: number): Buffer {
  if (n < 16) return Buffer.of(0x90 | n)
  if (n < 0x10000) return Buffer.of(0xdc, n >> 8, n & 0xff)
  const b = Buffer.alloc(5)
  b[0] = 0xdd
  b.writeUInt32BE(n, 1)
  return b
}

/** The header, then the payload's parts: one buffer. */
function frame(id: string, payload: Uint8Array[], bytes: number, docs: number, source?: string): Buffer {
  const hash = createHash('sha256')
  for (const part of payload) hash.update(part)
  const header: BatchHeader = {
    format: BATCH_FORMAT,
    v: BATCH_VERSION,
    id,
    docs,
    bytes,
    sha256: hash.digest('hex'),
    createdAt: new Date().toISOString(),
    ...(source ? { source } : {}),
  }
  return Buffer.concat([packr.pack(header), ...payload])
}

export async function writeBatchFile(
  file: string,
  id: string,
  docs: Doc[],
  source?: string,
  opts: { durable?: boolean } = {},
): Promise<Buffer> {
  const data = encodeBatch(id, docs, source)
  await writeFileAtomic(file, data, opts)
  return data
}

function corrupt(id: string, reason: string, cause?: unknown): BatchCorruptError {
  return new BatchCorruptError(id, reason, cause)
}

/** Decode the header and report where the payload starts. Throws LR_BATCH_CORRUPT. */
function decodeHeader(data: Uint8Array, id: string): { header: BatchHeader; payloadStart: number } {
  if (data.length === 0) throw corrupt(id, 'empty file')
  let header: unknown
  let payloadStart = -1
  try {
    unpackMultiple(data, (value: unknown, _start?: number, end?: number) => {
      header = value
      payloadStart = end ?? -1
      return false
    })
  } catch (err) {
    throw corrupt(id, `header does not decode (${(err as Error).message})`, err)
  }
  const h = header as Partial<BatchHeader> | undefined
  if (!h || typeof h !== 'object' || h.format !== BATCH_FORMAT)
    throw corrupt(id, 'not a leftright batch file')
  if (h.v !== BATCH_VERSION)
    throw corrupt(id, `format version ${String(h.v)} is not supported (expected ${BATCH_VERSION})`)
  if (typeof h.docs !== 'number' || typeof h.bytes !== 'number' || typeof h.sha256 !== 'string') {
    throw corrupt(id, 'header lacks docs/bytes/sha256')
  }
  if (payloadStart < 0) throw corrupt(id, 'header end not found')
  return { header: h as BatchHeader, payloadStart }
}

export function validateDoc(doc: unknown): string | null {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'not an object'
  const d = doc as Record<string, unknown>
  if (typeof d.doc_id !== 'string' || d.doc_id === '') return 'doc_id missing or not a non-empty string'
  if (d.doc_id.length > 50) return 'doc_id longer than 50 characters'
  if (typeof d.text !== 'string') return 'text missing or not a string'
  return null
}

/** Accept a parsed input value as a document, or say why not (shared by enqueue and prefetch). */
export function acceptDoc(value: unknown, maxTextBytes: number): { doc: Doc } | { reason: string } {
  const problem = validateDoc(value)
  if (problem) return { reason: problem }
  const doc = value as Doc
  // A UTF-16 unit is at most 3 UTF-8 bytes: most texts need no count.
  if (doc.text.length * 3 <= maxTextBytes) return { doc }
  const bytes = Buffer.byteLength(doc.text, 'utf8')
  if (bytes > maxTextBytes) return { reason: `text is ${bytes} bytes, over the limit of ${maxTextBytes}` }
  return { doc }
}

/** Decode and verify a whole batch. Throws LR_BATCH_CORRUPT with the reason. */
export function decodeBatch(data: Uint8Array, id: string): Batch {
  return decodeSound(data) ?? decodeStepwise(data, id)
}

/**
 * A sound batch file in one msgpack pass, or null: anything unexpected is left to
 * decodeStepwise, which says what is wrong. One pass, because decoding the header alone made
 * msgpackr's string extraction read on through the payload's texts, which the payload's own
 * decode then read again: 55-126 us a batch of 100 documents here, of 150-380 for the whole
 * decode (bench/RESULTS.md, fifteenth session). The checks are the same, in another order.
 */
function decodeSound(data: Uint8Array): Batch | null {
  let header: unknown
  let docs: unknown
  let payloadStart = -1
  let values = 0
  try {
    packr.unpackMultiple(data, (value: unknown, _start?: number, end?: number) => {
      if (values === 0) {
        header = value
        payloadStart = end ?? -1
      } else docs = value
      return ++values < 2
    })
  } catch {
    return null
  }
  const h = header as Partial<BatchHeader> | undefined
  if (values !== 2 || payloadStart < 0 || !h || typeof h !== 'object') return null
  if (h.format !== BATCH_FORMAT || h.v !== BATCH_VERSION) return null
  const payload = data.subarray(payloadStart)
  if (payload.length !== h.bytes || sha256(payload) !== h.sha256) return null
  if (!Array.isArray(docs) || docs.length !== h.docs || firstBadDoc(docs) !== null) return null
  return { header: h as BatchHeader, docs: docs as Doc[] }
}

/** Header, then checksum, then payload: the first check that fails is the reason given. */
function decodeStepwise(data: Uint8Array, id: string): Batch {
  const { header, payloadStart } = decodeHeader(data, id)
  const payload = data.subarray(payloadStart)
  if (payload.length !== header.bytes) {
    throw corrupt(
      id,
      `payload is ${payload.length} bytes, header says ${header.bytes} (truncated or appended)`,
    )
  }
  if (sha256(payload) !== header.sha256) throw corrupt(id, 'checksum mismatch (file damaged)')
  let docs: unknown
  try {
    docs = packr.unpack(payload)
  } catch (err) {
    throw corrupt(id, `payload does not decode (${(err as Error).message})`, err)
  }
  if (!Array.isArray(docs)) throw corrupt(id, 'payload is not an array of documents')
  if (docs.length !== header.docs)
    throw corrupt(id, `holds ${docs.length} documents, header says ${header.docs}`)
  const bad = firstBadDoc(docs)
  if (bad) throw corrupt(id, `document #${bad.index}: ${bad.problem}`)
  return { header, docs: docs as Doc[] }
}

function firstBadDoc(docs: unknown[]): { index: number; problem: string } | null {
  for (let index = 0; index < docs.length; index++) {
    const problem = validateDoc(docs[index])
    if (problem) return { index, problem }
  }
  return null
}

export async function readBatchFile(file: string, id: string): Promise<Batch> {
  // Synchronous: one read of a file of tens of kilobytes (store/atomic.ts says why).
  return decodeBatch(readFileSync(file), id)
}

/** Read only the header (first 4 KiB). Returns null when the file is gone or its header does not decode. */
export async function readBatchHeader(file: string, id: string): Promise<BatchHeader | null> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(file, 'r')
    const buf = Buffer.alloc(4096)
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0)
    return decodeHeader(buf.subarray(0, bytesRead), id).header
  } catch (err) {
    if (isNotFound(err) || err instanceof BatchCorruptError) return null
    throw err
  } finally {
    await handle?.close()
  }
}
