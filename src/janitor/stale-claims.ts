import { readFile, stat, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { type Marker, readMarker } from '../claim/marker.js'
import { writeFileAtomic } from '../spool/atomic.js'
import { type Layout, markerFile } from '../spool/layout.js'
import { moveBatchToBad } from '../spool/set-aside.js'

/** A batch put back this many times (its workers died or hung each time) goes to bad/. */
export const MAX_PUT_BACKS = 3

export interface PutBack {
  at: string
  host: string
  pid: number
  worker: string
  reason: string
}

const attemptsFile = (layout: Layout, id: string): string => path.join(layout.attempts, `${id}.json`)

export async function readPutBacks(layout: Layout, id: string): Promise<PutBack[]> {
  try {
    return JSON.parse(await readFile(attemptsFile(layout, id), 'utf8')) as PutBack[]
  } catch {
    return []
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export type StaleVerdict = { stale: false } | { stale: true; reason: string; ageMs: number }

/** Is this claimed marker stale? Dead owner on this host: at once. Otherwise: heartbeat older than staleMs. */
export function judgeClaim(marker: Marker, mtimeMs: number, staleMs: number, now = Date.now()): StaleVerdict {
  const ageMs = now - mtimeMs
  if (marker.host === hostname() && marker.pid > 0 && marker.pid !== process.pid && !pidAlive(marker.pid)) {
    return { stale: true, reason: `owner pid ${marker.pid} is gone`, ageMs }
  }
  if (ageMs > staleMs) return { stale: true, reason: `heartbeat ${Math.round(ageMs / 1000)}s old`, ageMs }
  return { stale: false }
}

/**
 * Put a stale claim back: remove the marker (if it is still the same claim),
 * record the attempt, and after MAX_PUT_BACKS move the batch to bad/ with its
 * history. Returns what happened, or null when the claim changed meanwhile.
 */
export async function putBack(
  layout: Layout,
  id: string,
  marker: Marker,
  reason: string,
): Promise<'requeued' | 'bad' | null> {
  const current = await readMarker(layout, id)
  if (!current || current.claim !== marker.claim || current.state !== 'claimed') return null
  const history = await readPutBacks(layout, id)
  history.push({
    at: new Date().toISOString(),
    host: marker.host,
    pid: marker.pid,
    worker: marker.worker,
    reason,
  })
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
  await unlink(markerFile(layout, id)).catch(() => {})
  return 'requeued'
}

export async function markerMtimeMs(layout: Layout, id: string): Promise<number | null> {
  try {
    return (await stat(markerFile(layout, id))).mtimeMs
  } catch {
    return null
  }
}
