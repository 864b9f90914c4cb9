import { readdir, readFile, stat } from 'node:fs/promises'
import { hostname } from 'node:os'
import { readMarker } from '../claim/marker.js'
import { pidAlive } from '../janitor/stale-claims.js'
import { readBatchHeader } from '../spool/batch-file.js'
import {
  BATCH_EXT,
  classifyLeftName,
  gpuStateFile,
  type Layout,
  leftFile,
  markerFile,
  prefetchStateFile,
} from '../spool/layout.js'
import { readLedgerTotals } from '../spool/ledger.js'

/**
 * A snapshot of a data dir, read from the folders alone: it works whether the
 * pool runs or not. The JSON shape is a contract (`status --json`, /status).
 */
export interface StatusSnapshot {
  dataDir: string
  at: string
  batches: { pending: number; claimed: number; stale: number; done: number; handedOff: number; bad: number }
  docs: { pending: number; claimed: number; done: number; ok: number; failed: number; dead: number }
  oldestClaim: { batch: string; host: string; pid: number; ageMs: number } | null
  /** Done batches whose markers the janitor compacted into state/ledger/ (included in `batches.done`). */
  ledger: { batches: number }
  /** The Kafka prefetcher of this data dir, from state/prefetch.json; null if it never ran. */
  prefetch: {
    running: boolean
    paused: 'backlog' | 'disk' | null
    since: string
    host: string
    pid: number
  } | null
  /** The GPU cap of the running pool (state/gpu.json); null when no pool of this host is running. */
  gpu: GpuState | null
}

interface GpuState {
  limit: number
  max: number
  inFlight: number
  circuit: string
  overloads: number
  host: string
  pid: number
  at: string
}

async function readGpuState(layout: Layout): Promise<GpuState | null> {
  try {
    const st = JSON.parse(await readFile(gpuStateFile(layout), 'utf8')) as GpuState
    if (st.host === hostname() && !pidAlive(st.pid)) return null
    const { limit, max, inFlight, circuit, overloads, host, pid, at } = st
    return { limit, max, inFlight, circuit, overloads, host, pid, at }
  } catch {
    return null
  }
}

async function readPrefetchState(layout: Layout): Promise<StatusSnapshot['prefetch']> {
  try {
    const st = JSON.parse(await readFile(prefetchStateFile(layout), 'utf8')) as {
      paused: 'backlog' | 'disk' | null
      since: string
      host: string
      pid: number
    }
    // Another host's process cannot be checked from here: take it as running.
    const running = st.host !== hostname() || pidAlive(st.pid)
    return { running, paused: st.paused, since: st.since, host: st.host, pid: st.pid }
  } catch {
    return null
  }
}

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch {
    return []
  }
}

export async function collectStatus(layout: Layout, staleMs: number): Promise<StatusSnapshot> {
  const [leftNames, rightNames, badNames, deadNames] = await Promise.all([
    list(layout.left),
    list(layout.right),
    list(layout.bad),
    list(layout.dead),
  ])
  const snap: StatusSnapshot = {
    dataDir: layout.root,
    at: new Date().toISOString(),
    batches: { pending: 0, claimed: 0, stale: 0, done: 0, handedOff: 0, bad: 0 },
    docs: { pending: 0, claimed: 0, done: 0, ok: 0, failed: 0, dead: 0 },
    oldestClaim: null,
    ledger: { batches: 0 },
    prefetch: await readPrefetchState(layout),
    gpu: await readGpuState(layout),
  }
  const markers = new Set(rightNames.filter((n) => !n.startsWith('.')))
  const now = Date.now()
  for (const name of leftNames) {
    const c = classifyLeftName(name)
    if (c.kind !== 'batch' || markers.has(c.id)) continue
    snap.batches.pending++
    snap.docs.pending += (await readBatchHeader(leftFile(layout, c.id), c.id))?.docs ?? 0
  }
  for (const id of markers) {
    const marker = await readMarker(layout, id)
    if (!marker) continue
    if (marker.state === 'done') {
      snap.batches.done++
      snap.docs.done += marker.docs ?? 0
      snap.docs.ok += marker.ok ?? 0
      snap.docs.failed += marker.failed ?? 0
    } else if (marker.state === 'handed-off') {
      snap.batches.handedOff++
    } else {
      snap.batches.claimed++
      snap.docs.claimed += (await readBatchHeader(leftFile(layout, id), id))?.docs ?? 0
      const mtimeMs = await stat(markerFile(layout, id)).then(
        (s) => s.mtimeMs,
        () => now,
      )
      const ageMs = now - mtimeMs
      if (ageMs > staleMs) snap.batches.stale++
      const claimAgeMs = marker.claimedAt ? now - Date.parse(marker.claimedAt) : ageMs
      if (!snap.oldestClaim || claimAgeMs > snap.oldestClaim.ageMs) {
        snap.oldestClaim = { batch: id, host: marker.host, pid: marker.pid, ageMs: claimAgeMs }
      }
    }
  }
  const ledger = await readLedgerTotals(layout)
  snap.ledger.batches = ledger.batches
  snap.batches.done += ledger.batches
  snap.docs.done += ledger.docs
  snap.docs.ok += ledger.ok
  snap.docs.failed += ledger.failed
  snap.batches.bad = badNames.filter((n) => n.endsWith(BATCH_EXT) && !n.startsWith('.')).length
  snap.docs.dead = deadNames.filter((n) => n.endsWith('.json') && !n.startsWith('.')).length
  return snap
}

export function formatStatus(s: StatusSnapshot): string {
  const b = s.batches
  const d = s.docs
  const lines = [
    `data dir  ${s.dataDir}`,
    `batches   pending ${b.pending}  claimed ${b.claimed} (stale ${b.stale})  done ${b.done}${s.ledger.batches ? ` (${s.ledger.batches} in the ledger)` : ''}  handed-off ${b.handedOff}  bad ${b.bad}`,
    `documents pending ${d.pending}  claimed ${d.claimed}  done ${d.done} (ok ${d.ok}, failed ${d.failed})  dead ${d.dead}`,
  ]
  if (s.oldestClaim) {
    const o = s.oldestClaim
    lines.push(`oldest claim ${o.batch} by ${o.host} pid ${o.pid}, ${Math.round(o.ageMs / 1000)}s ago`)
  }
  if (s.gpu) {
    const g = s.gpu
    lines.push(
      `gpu cap   limit ${g.limit} of ${g.max}, ${g.inFlight} in flight, circuit ${g.circuit}, ${g.overloads} overload answers (pid ${g.pid})`,
    )
  }
  const p = s.prefetch
  if (p) {
    const state = !p.running ? 'not running' : p.paused ? `PAUSED (${p.paused})` : 'running'
    lines.push(`prefetch  ${state} since ${p.since} (${p.host} pid ${p.pid})`)
  }
  return lines.join('\n')
}
