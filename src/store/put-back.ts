import type { Doc } from '../core/contracts.js'
import { BatchCorruptError } from '../core/errors.js'
import { readIfPresent, unlinkIfPresent, unlinkIfThere, writeFileAtomic } from './atomic.js'
import { readBatchFile, writeBatchFile } from './batch-file.js'
import { attemptsFile, type Layout, leftFile, newBatchId } from './layout.js'
import { dropForSetAside, type Marker, putBack, readMarker, sameClaim } from './markers.js'
import { moveBatchToBad, writeDead } from './set-aside.js'

/**
 * A crash is charged only to what could have caused it (DESIGN.md, failure semantics):
 * 1. a batch put back after its owner died becomes a suspect: its next run is alone in its
 *    process (no other batch in flight there; see work/solo-gate.ts);
 * 2. put back again while it ran alone, it is split in halves (two new batch files carrying
 *    the history; the original removed once both exist), and each half runs alone;
 * 3. a single document that crashed its process while alone goes to dead/ with LR_POISON.
 * Every other document is processed; bad/ stays for files that fail to decode or verify.
 */
export interface PutBack {
  at: string
  host: string
  pid: number
  worker: string
  reason: string
  /** It ran alone in its process when it was put back. */
  alone?: boolean
  /** Carried over from the batch this one was split from. */
  from?: string
}

export type PutBackOutcome =
  | { kind: 'requeued' }
  | { kind: 'split'; halves: string[] }
  | { kind: 'poison'; doc: Doc; history: PutBack[] }
  | { kind: 'bad'; reason: string }

/** A batch's put-back history (state/attempts/<id>.json); empty when it has none. */
export async function readPutBacks(layout: Layout, id: string): Promise<PutBack[]> {
  // Synchronous: asked for every batch, and almost always absent (store/atomic.ts says why).
  const data = readIfPresent(attemptsFile(layout, id))
  if (data === null) return []
  const parsed = JSON.parse(data.toString('utf8')) as unknown
  return Array.isArray(parsed) ? (parsed as PutBack[]) : []
}

async function writePutBacks(layout: Layout, id: string, history: PutBack[]): Promise<void> {
  await writeFileAtomic(attemptsFile(layout, id), `${JSON.stringify(history)}\n`)
}

/** A batch is done (or gone): its put-back history is no longer needed. */
export async function clearPutBacks(layout: Layout, id: string): Promise<void> {
  unlinkIfPresent(attemptsFile(layout, id))
}

/** The batch file is replaced by others (or by a dead/ entry): file, marker and history go, in that order. */
async function removeReplaced(layout: Layout, id: string): Promise<void> {
  unlinkIfThere(leftFile(layout, id))
  await dropForSetAside(layout, id)
  await clearPutBacks(layout, id)
}

/**
 * Put a stale claim back (the janitor). Returns what happened, or null when the
 * marker is no longer the claim `seen` (released, finished or renewed meanwhile).
 */
export async function putBackStale(
  layout: Layout,
  id: string,
  seen: Marker,
  reason: string,
): Promise<PutBackOutcome | null> {
  if (!sameClaim(await readMarker(layout, id), seen)) return null
  const history = await readPutBacks(layout, id)
  const alone = seen.alone === true
  history.push({
    at: new Date().toISOString(),
    host: seen.host,
    pid: seen.pid,
    worker: seen.worker,
    reason,
    alone,
  })
  if (!alone) {
    // It may have been a neighbour's fault: run it alone next.
    await writePutBacks(layout, id, history)
    return (await putBack(layout, id, seen)) ? { kind: 'requeued' } : null
  }
  let docs: Doc[]
  try {
    docs = (await readBatchFile(leftFile(layout, id), id)).docs
  } catch (err) {
    if (!(err instanceof BatchCorruptError)) throw err
    await writePutBacks(layout, id, history)
    await moveBatchToBad(layout, id, err.message, err.code, history)
    return { kind: 'bad', reason: err.reason }
  }
  if (docs.length <= 1) {
    const doc = docs[0]
    if (doc) {
      await writeDead(layout, {
        stage: 'poison',
        reason: `LR_POISON: the process died ${history.length} times with this document in flight, the last time alone`,
        doc_id: doc.doc_id,
        batch: id,
        item: doc,
        history,
      })
    }
    await removeReplaced(layout, id)
    return doc ? { kind: 'poison', doc, history } : { kind: 'split', halves: [] }
  }
  // Split: both halves are durable (and suspects) before the original goes.
  const half = Math.ceil(docs.length / 2)
  const halves: string[] = []
  for (const part of [docs.slice(0, half), docs.slice(half)]) {
    // Its history first, so a worker that claims the half at once already runs it alone.
    const halfId = newBatchId()
    await writePutBacks(
      layout,
      halfId,
      history.map((h) => ({ ...h, from: h.from ?? id })),
    )
    await writeBatchFile(leftFile(layout, halfId), halfId, part, `split:${id}`)
    halves.push(halfId)
  }
  await removeReplaced(layout, id)
  return { kind: 'split', halves }
}
