import { readFile, unlink } from 'node:fs/promises'
import { isNotFound } from '../core/errors.js'
import { writeFileAtomic } from './atomic.js'
import { attemptsFile, type Layout } from './layout.js'
import { type Marker, putBack, readMarker, sameClaim } from './markers.js'
import { moveBatchToBad } from './set-aside.js'

/** A batch put back this many times (its workers died or hung each time) goes to bad/. */
export const MAX_PUT_BACKS = 3

export interface PutBack {
  at: string
  host: string
  pid: number
  worker: string
  reason: string
}

/** A batch's put-back history (state/attempts/<id>.json); empty when it has none. */
export async function readPutBacks(layout: Layout, id: string): Promise<PutBack[]> {
  let text: string
  try {
    text = await readFile(attemptsFile(layout, id), 'utf8')
  } catch (err) {
    if (isNotFound(err)) return []
    throw err
  }
  const parsed = JSON.parse(text) as unknown
  return Array.isArray(parsed) ? (parsed as PutBack[]) : []
}

/**
 * Put a stale claim back: record the attempt, then remove the marker (if it is
 * still the claim `seen`); after MAX_PUT_BACKS move the batch to bad/ with its
 * history. Returns what happened, or null when the claim changed meanwhile.
 */
export async function putBackStale(
  layout: Layout,
  id: string,
  seen: Marker,
  reason: string,
): Promise<'requeued' | 'bad' | null> {
  const current = await readMarker(layout, id)
  if (!sameClaim(current, seen)) return null
  const history = await readPutBacks(layout, id)
  history.push({ at: new Date().toISOString(), host: seen.host, pid: seen.pid, worker: seen.worker, reason })
  await writeFileAtomic(attemptsFile(layout, id), `${JSON.stringify(history)}\n`)
  if (history.length >= MAX_PUT_BACKS) {
    await moveBatchToBad(
      layout,
      id,
      `put back ${history.length} times: its workers kept dying`,
      'LR_POISON',
      history,
    )
    return 'bad'
  }
  return (await putBack(layout, id, seen)) ? 'requeued' : null
}

/** A batch is done: its put-back history is no longer needed. */
export async function clearPutBacks(layout: Layout, id: string): Promise<void> {
  await unlink(attemptsFile(layout, id)).catch((err: unknown) => {
    if (!isNotFound(err)) throw err
  })
}
