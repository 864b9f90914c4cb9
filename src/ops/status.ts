import { readdir, readFile } from 'node:fs/promises'
import type { DiskFloor } from '../core/config.js'
import { isNotFound } from '../core/errors.js'
import { ownerIsGone } from '../core/pid.js'
import { readBatchHeader } from '../store/batch-file.js'
import { diskState } from '../store/disk.js'
import { BATCH_EXT, badFile, isBatchId, type Layout, leftFile, stateFiles } from '../store/layout.js'
import { isLedgerFile } from '../store/ledger.js'
import { type Marker, markerMtimeMs, readMarker } from '../store/markers.js'
import { scanSpool } from '../store/scan.js'
import { liveWriters, percentRead, type Writer } from '../store/writers.js'
import { type GpuState, readGpuState } from './gpu-state.js'
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
  /** repeats: documents re-sent within a batch (one row each: the last one processed won). */
  docs: {
    pending: number
    claimed: number
    done: number
    ok: number
    failed: number
    dead: number
    repeats: number
    /** Documents inside batch files in bad/ (where their header still decodes). */
    bad: number
  }
  /** Documents done per second over the last 1, 5 and 15 minutes. */
  rates: { m1: number; m5: number; m15: number }
  /** Seconds until the pending and claimed documents are done at the 5-minute rate (else 15, 1); null when idle. */
  etaSeconds: number | null
  oldestClaim: { batch: string; host: string; pid: number; ageMs: number } | null
  /** Done batches whose markers the janitor compacted into state/ledger/ (included in `batches.done`). */
  ledger: { batches: number }
  disk: { freeBytes: number; totalBytes: number; low: boolean } | null
  /** The configured source's entries not yet acknowledged (asked by `status` itself); absent without a source. */
  source?: { name: string; total: number; parts: Record<string, number> } | { name: string; error: string }
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
  /** Dependencies the running pool finds unreachable now (entity service, sink, mapping, disk, source), with since when and why. */
  dependencies: GpuState['dependencies']
  /**
   * Processes (or threads) writing batch files into left/ now: `enqueue`, `start FILE` (state/writers/),
   * each with the share of its input read (null for a pipe).
   */
  writers: WriterStatus[]
}

/** A writer as status gives it: its progress with the share of its input read (store/writers.ts). */
export type WriterStatus = Omit<Writer, 'progress'> & {
  progress?: NonNullable<Writer['progress']> & { percentRead: number | null }
}

const withShare = ({ progress, ...w }: Writer): WriterStatus =>
  progress ? { ...w, progress: { ...progress, percentRead: percentRead(progress) } } : w

export interface StatusOptions {
  staleMs: number
  minFreeDisk: DiskFloor
  now?: number
}

async function readPrefetchState(layout: Layout): Promise<StatusSnapshot['prefetch']> {
  try {
    const st = JSON.parse(await readFile(stateFiles(layout).prefetch, 'utf8')) as {
      paused: 'backlog' | 'disk' | null
      since: string
      host: string
      pid: number
    }
    // Another host's process cannot be checked from here: take it as running.
    const running = !ownerIsGone(st)
    return { running, paused: st.paused, since: st.since, host: st.host, pid: st.pid }
  } catch (err) {
    // Never written (no prefetcher ran here) or damaged by hand: no prefetcher to show.
    if (isNotFound(err) || err instanceof SyntaxError) return null
    throw err
  }
}

/** A folder's names; a folder not there yet (an older data dir) has none. */
async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (err) {
    if (isNotFound(err)) return []
    throw err
  }
}

export async function collectStatus(layout: Layout, opts: StatusOptions): Promise<StatusSnapshot> {
  const now = opts.now ?? Date.now()
  const [scan, badNames, deadNames, ledgerNames, idx] = await Promise.all([
    scanSpool(layout),
    list(layout.bad),
    list(layout.dead),
    list(layout.ledger),
    loadStatusIndex(layout),
  ])
  const snap: StatusSnapshot = {
    dataDir: layout.root,
    at: new Date(now).toISOString(),
    batches: { pending: 0, claimed: 0, stale: 0, done: 0, failed: 0, handedOff: 0, bad: 0 },
    docs: { pending: 0, claimed: 0, done: 0, ok: 0, failed: 0, dead: 0, repeats: 0, bad: 0 },
    rates: { m1: 0, m5: 0, m15: 0 },
    etaSeconds: null,
    oldestClaim: null,
    ledger: { batches: 0 },
    disk: await diskState(layout.root, opts.minFreeDisk).catch(() => null),
    paused: null,
    prefetch: await readPrefetchState(layout),
    gpu: await readGpuState(layout),
    dependencies: {},
    writers: liveWriters(layout).map(withShare),
  }
  let changed = false
  const markers = new Set([...scan.right].filter((n) => isBatchId(n)))
  const inLeft = scan.left
  const docsOf = async (id: string): Promise<number> => {
    const known = idx.docs[id]
    if (known !== undefined) return known
    const n = (await readBatchHeader(leftFile(layout, id), id))?.docs
    if (n === undefined) return 0
    idx.docs[id] = n
    changed = true
    return n
  }
  for (const id of scan.left) {
    if (markers.has(id)) continue
    snap.batches.pending++
    snap.docs.pending += await docsOf(id)
  }
  const claims: ClaimSeen[] = []
  const since = { m1: Number.POSITIVE_INFINITY, m5: Number.POSITIVE_INFINITY, m15: Number.POSITIVE_INFINITY }
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
        const began = Math.floor(Date.parse(marker.claimedAt) / 1000) || at
        done = [marker.docs ?? 0, marker.ok ?? 0, marker.failed ?? 0, at, marker.repeats ?? 0, began]
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
    const [docs, ok, failed, at, repeats, began] = done
    snap.docs.repeats += repeats ?? 0
    snap.batches.done++
    if (failed > 0) snap.batches.failed++
    snap.docs.done += docs
    snap.docs.ok += ok
    snap.docs.failed += failed
    for (const w of ['m1', 'm5', 'm15'] as const) {
      if (nowSec - at > windows[w]) continue
      recent[w] += docs
      // When the work in this window began: a run younger than the window is measured over its own age.
      since[w] = Math.min(since[w], Math.max(nowSec - windows[w], began ?? at))
    }
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
  snap.docs.repeats += ledger.totals.repeats
  const badIds = badNames
    .filter((n) => n.endsWith(BATCH_EXT) && !n.startsWith('.'))
    .map((n) => n.slice(0, -BATCH_EXT.length))
  snap.batches.bad = badIds.length
  // Documents inside bad/ files, from their headers where the header still decodes.
  for (const id of badIds) snap.docs.bad += (await readBatchHeader(badFile(layout, id), id))?.docs ?? 0
  snap.docs.dead = deadNames.filter((n) => n.endsWith('.json') && !n.startsWith('.')).length
  // A run younger than a window is measured over its own age (else a fresh start looks slow).
  // Rates over wall time: documents finished in the last 1/5/15 minutes, over the time since the work
  // in that window began (never over earlier runs, never stretched to a window the run has not lived).
  const span = (w: 'm1' | 'm5' | 'm15'): number => Math.max(1, nowSec - since[w])
  snap.rates = { m1: recent.m1 / span('m1'), m5: recent.m5 / span('m5'), m15: recent.m15 / span('m15') }
  const rate = snap.rates.m1 || snap.rates.m5 || snap.rates.m15
  const remaining = snap.docs.pending + snap.docs.claimed
  snap.etaSeconds = remaining > 0 && rate > 0 ? Math.round(remaining / rate) : null
  snap.dependencies = snap.gpu?.dependencies ?? {}
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
    const mtimeMs = (await markerMtimeMs(layout, id)) ?? now
    const ageMs = now - mtimeMs
    if (ageMs > staleMs) snap.batches.stale++
    const claimAgeMs = marker.claimedAt ? now - Date.parse(marker.claimedAt) : ageMs
    if (!snap.oldestClaim || claimAgeMs > snap.oldestClaim.ageMs) {
      snap.oldestClaim = { batch: id, host: marker.host, pid: marker.pid, ageMs: claimAgeMs }
    }
  }
}

/** The data dir's status, computed at most once a second however often it is asked for. */
export function cachedStatus(layout: Layout, opts: StatusOptions): () => Promise<StatusSnapshot> {
  let last: { at: number; snap: Promise<StatusSnapshot> } | null = null
  return () => {
    if (!last || Date.now() - last.at > 1000) last = { at: Date.now(), snap: collectStatus(layout, opts) }
    return last.snap
  }
}
