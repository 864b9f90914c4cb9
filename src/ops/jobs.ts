import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { readBatchHeader } from '../store/batch-file.js'
import { type Layout, leftFile } from '../store/layout.js'
import { markerMtimeMs, readMarker } from '../store/markers.js'
import { scanSpool } from '../store/scan.js'
import { loadStatusIndex } from './status-index.js'

/** The dashboard's lists, like a job board's: what runs now, what finished, what was set aside. */
export interface JobBoard {
  claimed: {
    batch: string
    host: string
    pid: number
    worker: string
    ageMs: number
    heartbeatAgeMs: number
    docs: number | null
  }[]
  recentDone: {
    batch: string
    docs: number
    ok: number
    failed: number
    finishedAt: string
    seconds: number
  }[]
  recentDead: {
    file: string
    stage: string
    doc_id: string | null
    batch: string | null
    reason: string
    at: string
  }[]
  recentBad: { batch: string; reason: string; code: string; at: string }[]
}

const LIMIT = 15

/**
 * Reads only what is small: claimed markers (workers x boxes), the status index for done
 * batches (kept by `status`, which the dashboard asks every second), and the newest files
 * of dead/ and bad/.
 */
export async function collectJobs(layout: Layout, now = Date.now()): Promise<JobBoard> {
  const [scan, idx] = await Promise.all([scanSpool(layout), loadStatusIndex(layout)])
  const board: JobBoard = { claimed: [], recentDone: [], recentDead: [], recentBad: [] }
  for (const id of scan.right) {
    if (idx.done[id] || idx.handedOff[id]) continue
    const marker = await readMarker(layout, id)
    if (marker?.state !== 'claimed') continue
    const mtime = (await markerMtimeMs(layout, id)) ?? now
    board.claimed.push({
      batch: id,
      host: marker.host,
      pid: marker.pid,
      worker: marker.worker,
      ageMs: now - (Date.parse(marker.claimedAt) || mtime),
      heartbeatAgeMs: now - mtime,
      docs: scan.left.has(id) ? ((await readBatchHeader(leftFile(layout, id), id))?.docs ?? null) : null,
    })
  }
  board.claimed.sort((a, b) => b.ageMs - a.ageMs)
  board.recentDone = Object.entries(idx.done)
    .sort((a, b) => b[1][3] - a[1][3])
    .slice(0, LIMIT)
    .map(([batch, [docs, ok, failed, at, , began]]) => ({
      batch,
      docs,
      ok,
      failed,
      finishedAt: new Date(at * 1000).toISOString(),
      seconds: Math.max(0, at - (began ?? at)),
    }))
  for (const name of await newest(layout.dead, (n) => n.endsWith('.json'))) {
    const e = await readJson(path.join(layout.dead, name))
    if (!e) continue
    board.recentDead.push({
      file: name,
      stage: String(e.stage ?? ''),
      doc_id: typeof e.doc_id === 'string' ? e.doc_id : null,
      batch: typeof e.batch === 'string' ? e.batch : null,
      reason: String(e.reason ?? ''),
      at: String(e.at ?? ''),
    })
  }
  for (const name of await newest(layout.bad, (n) => n.endsWith('.reason.json'))) {
    const e = await readJson(path.join(layout.bad, name))
    if (!e) continue
    board.recentBad.push({
      batch: String(e.batch ?? name.replace('.reason.json', '')),
      reason: String(e.reason ?? ''),
      code: String(e.code ?? ''),
      at: String(e.at ?? ''),
    })
  }
  board.recentBad.sort((a, b) => b.at.localeCompare(a.at))
  return board
}

/** The newest names of a folder (dead/ names start with the time in ms; bad/ sorted after reading). */
async function newest(dir: string, keep: (name: string) => boolean): Promise<string[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.') && keep(n))
  return names.sort().reverse().slice(0, LIMIT)
}

async function readJson(file: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
  } catch {
    // Gone since the listing (retried, moved): not a problem for a view.
    return null
  }
}
