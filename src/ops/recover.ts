import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import type { Doc } from '../core/contracts.js'
import { isNotFound } from '../core/errors.js'
import { acceptDoc, readBatchHeader } from '../store/batch-file.js'
import { writeNewBatch } from '../store/batches.js'
import {
  archiveFile,
  badFile,
  badReasonFile,
  isBatchId,
  type Layout,
  leftFile,
  milestoneFile,
} from '../store/layout.js'
import { readMarker, releaseHandoff } from '../store/markers.js'
import { clearPutBacks, readPutBacks } from '../store/put-back.js'
import { markedIds, markerOnlyIds, scanSpool } from '../store/scan.js'
import type { DeadEntry } from '../store/set-aside.js'

/**
 * Recovery commands: put set-aside work back, look at a batch, give back reservations.
 * Each returns what it did, for one line.
 */

/** A dead/ entry's document, if it holds one (`item`), or one parsed from its raw input. */
function documentOf(entry: DeadEntry, maxTextBytes: number): Doc | null {
  if (entry.item && typeof entry.item === 'object') {
    const ok = acceptDoc(entry.item, maxTextBytes)
    return 'doc' in ok ? ok.doc : null
  }
  if (typeof entry.raw !== 'string' || entry.sha256) return null // absent, or kept as a prefix only
  const text = entry.encoding === 'base64' ? Buffer.from(entry.raw, 'base64').toString('utf8') : entry.raw
  try {
    const ok = acceptDoc(JSON.parse(text), maxTextBytes)
    return 'doc' in ok ? ok.doc : null
  } catch {
    return null
  }
}

export interface RetryDeadResult {
  /** Documents put back to work, in `batches` new batch files. */
  docs: number
  batches: number
  /** Entries that matched but hold no document that can be processed (kept where they are). */
  unusable: number
}

/**
 * `retry dead [--stage S] [--doc ID ...]`: the documents of matching dead/ entries go back
 * to left/ as new batch files; the entries taken move to dead/retried/, so the dead count
 * goes down. An entry that holds no usable document stays, counted.
 */
export async function retryDead(
  layout: Layout,
  opts: { stage?: string; docs?: string[]; batchSize: number; maxTextBytes: number },
): Promise<RetryDeadResult> {
  const result: RetryDeadResult = { docs: 0, batches: 0, unusable: 0 }
  const retried = path.join(layout.dead, 'retried')
  const wanted = opts.docs && opts.docs.length > 0 ? new Set(opts.docs) : null
  const taken: { file: string; doc: Doc }[] = []
  for (const name of (await readdir(layout.dead)).sort()) {
    if (!name.endsWith('.json') || name.startsWith('.')) continue
    const file = path.join(layout.dead, name)
    const entry = JSON.parse(await readFile(file, 'utf8')) as DeadEntry
    if (opts.stage && entry.stage !== opts.stage) continue
    const doc = documentOf(entry, opts.maxTextBytes)
    if (wanted && !wanted.has(doc?.doc_id ?? entry.doc_id ?? '')) continue
    if (!doc) {
      result.unusable++
      continue
    }
    taken.push({ file, doc })
  }
  await mkdir(retried, { recursive: true })
  for (let i = 0; i < taken.length; i += opts.batchSize) {
    const part = taken.slice(i, i + opts.batchSize)
    // The batch is durable before its entries leave dead/: a crash in between repeats, never loses.
    await writeNewBatch(
      layout,
      part.map((p) => p.doc),
      'retry-dead',
    )
    for (const p of part) await rename(p.file, path.join(retried, path.basename(p.file)))
    result.batches++
    result.docs += part.length
  }
  return result
}

/** `retry bad [ID ...]`: bad/ batch files back to left/, their reason and put-back history cleared. */
export async function retryBad(layout: Layout, ids: string[]): Promise<{ moved: number; missing: string[] }> {
  const all = (await readdir(layout.bad))
    .filter((n) => n.endsWith('.msgpack') && !n.startsWith('.'))
    .map((n) => n.slice(0, -'.msgpack'.length))
  const chosen = ids.length > 0 ? ids : all
  const out = { moved: 0, missing: [] as string[] }
  for (const id of chosen) {
    if (!all.includes(id)) {
      out.missing.push(id)
      continue
    }
    await rename(badFile(layout, id), leftFile(layout, id))
    await unlink(badReasonFile(layout, id)).catch((err: unknown) => {
      if (!isNotFound(err)) throw err
    })
    await clearPutBacks(layout, id)
    out.moved++
  }
  return out
}

/** `handoff --release [ID ...]`: give back reservations of batches still here (not yet copied). */
export async function releaseHandoffs(
  layout: Layout,
  ids: string[],
): Promise<{ released: number; skipped: number }> {
  const scan = await scanSpool(layout)
  const candidates = ids.length > 0 ? ids : markedIds(scan)
  const out = { released: 0, skipped: 0 }
  for (const id of candidates) {
    if (!scan.left.has(id)) {
      out.skipped++
      continue
    }
    if (await releaseHandoff(layout, id)) out.released++
    else if (ids.length > 0) out.skipped++
  }
  return out
}

async function sizeOf(file: string): Promise<number | null> {
  try {
    return (await stat(file)).size
  } catch (err) {
    if (isNotFound(err)) return null
    throw err
  }
}

/** `inspect ID`: where a batch is, its marker, size and documents, milestone and history. */
export async function inspectBatch(layout: Layout, id: string): Promise<Record<string, unknown>> {
  if (!isBatchId(id)) throw new Error(`${id}: not a batch id (22 letters and digits)`)
  const places: [string, string][] = [
    ['left', leftFile(layout, id)],
    ['bad', badFile(layout, id)],
    ['archive', archiveFile(layout, id)],
  ]
  let where: string | null = null
  let bytes: number | null = null
  let docs: number | null = null
  for (const [name, file] of places) {
    const size = await sizeOf(file)
    if (size === null) continue
    where = name
    bytes = size
    docs = (await readBatchHeader(file, id))?.docs ?? null
    break
  }
  const marker = await readMarker(layout, id)
  const scan = await scanSpool(layout)
  if (!where && !marker && !markerOnlyIds(scan).includes(id)) throw new Error(`${id}: no such batch here`)
  const badReason = existsSync(badReasonFile(layout, id))
    ? (JSON.parse(await readFile(badReasonFile(layout, id), 'utf8')) as unknown)
    : null
  return {
    id,
    file: where ?? 'gone (done and retired, or handed off)',
    bytes,
    docs,
    marker,
    milestone: (await sizeOf(milestoneFile(layout, id))) !== null,
    putBacks: await readPutBacks(layout, id),
    ...(badReason ? { badReason } : {}),
  }
}
