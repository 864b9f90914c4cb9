import { readdir, readFile, stat } from 'node:fs/promises'
import { hostname } from 'node:os'
import { type Marker, readMarker } from '../claim/marker.js'
import type { DiskFloor } from '../config.js'
import { pidAlive } from '../janitor/stale-claims.js'
import { readBatchHeader } from '../spool/batch-file.js'
import { diskState } from '../spool/disk.js'
import {
  BATCH_EXT,
  classifyLeftName,
  gpuStateFile,
  isBatchId,
  type Layout,
  leftFile,
  markerFile,
  prefetchStateFile,
} from '../spool/layout.js'
import { isLedgerFile } from '../spool/ledger.js'
import { ledgerTotalsIndexed, loadStatusIndex, saveStatusIndex } from './status-index.js'

/**
 * A snapshot of a data dir, read from the folders alone: it works whether the
 * pool runs or not. The JSON shape is a contract (`status --json`, /status).
 */
export interface StatusSnapshot {
  dataDir: string
  at: string
  batches: {
    pending: number
    claimed: number
    stale: number
    done: number
    /** Done batches with at least one failed document (included in done). */
    failed: number
    handedOff: number
    bad: number
  }
  docs: { pending: number; claimed: number; done: number; ok: number; failed: number; dead: number }
  /** Documents done per second over the last 1, 5 and 15 minutes. */
  rates: { m1: number; m5: number; m15: number }
  /** Seconds until the pending and claimed documents are done at the 5-minute rate (else 15, 1); null when idle. */
  etaSeconds: number | null
  oldestClaim: { batch: string; host: string; pid: number; ageMs: number } | null
  /** Done batches whose markers the janitor compacted into state/ledger/ (included in `batches.done`). */
  ledger: { batches: number }
  disk: { freeBytes: number; totalBytes: number; low: boolean } | null
  /** Why new work is not being fetched, if it is not: `disk` or `backlog`. */
  paused: 'disk' | 'backlog' | null
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

export interface StatusOptions {
  staleMs: number
  minFreeDisk: DiskFloor
  now?: number
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

export async function collectStatus(layout: Layout, opts: StatusOptions): Promise<StatusSnapshot> {
  const now = opts.now ?? Date.now()
  const [leftNames, rightNames, badNames, deadNames, ledgerNames, idx] = await Promise.all([
    list(layout.left),
    list(layout.right),
    list(layout.bad),
    list(layout.dead),
    list(layout.ledger),
    loadStatusIndex(layout),
  ])
  const snap: StatusSnapshot = {
    dataDir: layout.root,
    at: new Date(now).toISOString(),
    batches: { pending: 0, claimed: 0, stale: 0, done: 0, failed: 0, handedOff: 0, bad: 0 },
    docs: { pending: 0, claimed: 0, done: 0, ok: 0, failed: 0, dead: 0 },
    rates: { m1: 0, m5: 0, m15: 0 },
    etaSeconds: null,
    oldestClaim: null,
    ledger: { batches: 0 },
    disk: await diskState(layout.root, opts.minFreeDisk).catch(() => null),
    paused: null,
    prefetch: await readPrefetchState(layout),
    gpu: await readGpuState(layout),
  }
  let changed = false
  const markers = new Set(rightNames.filter((n) => isBatchId(n)))
  const inLeft = new Set<string>()
  const docsOf = async (id: string): Promise<number> => {
    const known = idx.docs[id]
    if (known !== undefined) return known
    const n = (await readBatchHeader(leftFile(layout, id), id))?.docs
    if (n === undefined) return 0
    idx.docs[id] = n
    changed = true
    return n
  }
  for (const name of leftNames) {
    const c = classifyLeftName(name)
    if (c.kind !== 'batch') continue
    inLeft.add(c.id)
    if (markers.has(c.id)) continue
    snap.batches.pending++
    snap.docs.pending += await docsOf(c.id)
  }
  const claims: ClaimSeen[] = []
  let firstDoneSec = Number.POSITIVE_INFINITY
  const windows = { m1: 60, m5: 300, m15: 900 }
  const recent = { m1: 0, m5: 0, m15: 0 }
  const nowSec = now / 1000
  for (const id of markers) {
    if (idx.handedOff[id]) {
      snap.batches.handedOff++
      continue
    }
    let done = idx.done[id]
    if (!done) {
      const marker = await readMarker(layout, id)
      if (!marker) continue
      if (marker.state === 'done') {
        const at = Math.round(Date.parse(marker.finishedAt ?? '') / 1000) || Math.round(nowSec)
        done = [marker.docs ?? 0, marker.ok ?? 0, marker.failed ?? 0, at]
        idx.done[id] = done
        changed = true
      } else if (marker.state === 'handed-off') {
        snap.batches.handedOff++
        if (marker.handedOffAt) {
          idx.handedOff[id] = 1
          changed = true
        }
        continue
      } else {
        claims.push({ id, marker, docs: inLeft.has(id) ? await docsOf(id) : 0 })
        continue
      }
    }
    const [docs, ok, failed, at] = done
    snap.batches.done++
    if (failed > 0) snap.batches.failed++
    snap.docs.done += docs
    snap.docs.ok += ok
    snap.docs.failed += failed
    for (const w of ['m1', 'm5', 'm15'] as const) if (nowSec - at <= windows[w]) recent[w] += docs
    firstDoneSec = Math.min(firstDoneSec, at)
  }
  await countClaims(snap, layout, claims, opts.staleMs, now)
  // Forget what is gone: compacted markers, batch files done or moved away.
  for (const id of Object.keys(idx.done)) {
    if (!markers.has(id)) {
      delete idx.done[id]
      changed = true
    }
  }
  for (const id of Object.keys(idx.handedOff)) {
    if (!markers.has(id)) {
      delete idx.handedOff[id]
      changed = true
    }
  }
  for (const id of Object.keys(idx.docs)) {
    if (!inLeft.has(id)) {
      delete idx.docs[id]
      changed = true
    }
  }
  const ledger = await ledgerTotalsIndexed(layout, ledgerNames.filter(isLedgerFile), idx)
  changed ||= ledger.changed
  if (changed) await saveStatusIndex(layout, idx)
  snap.ledger.batches = ledger.totals.batches
  snap.batches.done += ledger.totals.batches
  snap.batches.failed += ledger.totals.failedBatches
  snap.docs.done += ledger.totals.docs
  snap.docs.ok += ledger.totals.ok
  snap.docs.failed += ledger.totals.failed
  snap.batches.bad = badNames.filter((n) => n.endsWith(BATCH_EXT) && !n.startsWith('.')).length
  snap.docs.dead = deadNames.filter((n) => n.endsWith('.json') && !n.startsWith('.')).length
  // A run younger than a window is measured over its own age (else a fresh start looks slow).
  const span = (w: number): number => Math.max(1, Math.min(w, nowSec - firstDoneSec + 1))
  snap.rates = { m1: recent.m1 / span(60), m5: recent.m5 / span(300), m15: recent.m15 / span(900) }
  const rate = snap.rates.m5 || snap.rates.m15 || snap.rates.m1
  const remaining = snap.docs.pending + snap.docs.claimed
  snap.etaSeconds = remaining > 0 && rate > 0 ? Math.round(remaining / rate) : null
  snap.paused = snap.disk?.low ? 'disk' : (snap.prefetch?.running && snap.prefetch.paused) || null
  return snap
}

interface ClaimSeen {
  id: string
  marker: Marker
  docs: number
}

/** Claimed markers are few (workers x boxes) and change all the time: each is read and stat'ed. */
async function countClaims(
  snap: StatusSnapshot,
  layout: Layout,
  claims: ClaimSeen[],
  staleMs: number,
  now: number,
): Promise<void> {
  for (const { id, marker, docs } of claims) {
    snap.batches.claimed++
    snap.docs.claimed += docs
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

function humanBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(v < 10 && u > 0 ? 1 : 0)} ${units[u]}`
}

function humanSeconds(s: number): string {
  if (s < 90) return `${s}s`
  if (s < 5400) return `${Math.round(s / 60)}m`
  if (s < 172_800) return `${(s / 3600).toFixed(1)}h`
  return `${(s / 86_400).toFixed(1)}d`
}

export function formatStatus(s: StatusSnapshot): string {
  const b = s.batches
  const d = s.docs
  const r = s.rates
  const lines = [
    `data dir  ${s.dataDir}`,
    `batches   pending ${b.pending}  claimed ${b.claimed} (stale ${b.stale})  done ${b.done}${s.ledger.batches ? ` (${s.ledger.batches} in the ledger)` : ''} (with failures ${b.failed})  handed-off ${b.handedOff}  bad ${b.bad}`,
    `documents pending ${d.pending}  claimed ${d.claimed}  done ${d.done} (ok ${d.ok}, failed ${d.failed})  dead ${d.dead}`,
    `rate      ${r.m1.toFixed(1)} / ${r.m5.toFixed(1)} / ${r.m15.toFixed(1)} docs/s (1 / 5 / 15 min)  ETA ${s.etaSeconds === null ? '-' : humanSeconds(s.etaSeconds)}`,
  ]
  if (s.disk) {
    lines.push(
      `disk      ${humanBytes(s.disk.freeBytes)} free of ${humanBytes(s.disk.totalBytes)}${s.disk.low ? '  LOW (under LR_MIN_FREE_DISK)' : ''}`,
    )
  }
  if (s.paused) lines.push(`paused: ${s.paused}`)
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
