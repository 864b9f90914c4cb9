import { readFile, stat } from 'node:fs/promises'
import { writeFileAtomic } from '../store/atomic.js'
import { type Layout, ledgerDayFile, stateFiles } from '../store/layout.js'
import { type LedgerTotals, readLedgerFileTotals } from '../store/ledger.js'

/**
 * What `status` has already read, kept in state/status-index.json so that a call
 * over 100,000 batches opens only what changed since the last one. Everything in
 * it is immutable once written: a done marker's counts, a batch file's document
 * count, a ledger file's totals (keyed by its size and mtime).
 */
export interface StatusIndex {
  v: 1
  /** id -> [docs, ok, failed, finishedAt, repeats, claimedAt] (epoch seconds) of done markers in right/. */
  done: Record<string, [number, number, number, number, number?, number?]>
  /** ids of handed-off markers whose copy was verified (they never change again). */
  handedOff: Record<string, 1>
  /** id -> documents in left/<id>.msgpack. */
  docs: Record<string, number>
  /** ledger file name -> its totals, valid while size and mtime match. */
  ledger: Record<string, LedgerTotals & { size: number; mtimeMs: number }>
}

const indexFile = (layout: Layout): string => stateFiles(layout).statusIndex

export async function loadStatusIndex(layout: Layout): Promise<StatusIndex> {
  try {
    const idx = JSON.parse(await readFile(indexFile(layout), 'utf8')) as StatusIndex
    if (idx.v === 1 && idx.done && idx.docs && idx.ledger) return { ...idx, handedOff: idx.handedOff ?? {} }
  } catch {
    // missing or damaged: start over
  }
  return { v: 1, done: {}, handedOff: {}, docs: {}, ledger: {} }
}

/** Best effort: a read-only data dir just means the next call reads again. */
export async function saveStatusIndex(layout: Layout, idx: StatusIndex): Promise<void> {
  await writeFileAtomic(indexFile(layout), JSON.stringify(idx), { durable: false }).catch(() => {})
}

/** Ledger totals, reading only the day files that changed since they were indexed. */
export async function ledgerTotalsIndexed(
  layout: Layout,
  names: string[],
  idx: StatusIndex,
): Promise<{ totals: LedgerTotals; changed: boolean }> {
  const totals: LedgerTotals = { batches: 0, failedBatches: 0, docs: 0, ok: 0, failed: 0, repeats: 0 }
  let changed = false
  const seen = new Set<string>()
  for (const name of names) {
    const file = ledgerDayFile(layout, name.replace(/\.jsonl$/, ''))
    const s = await stat(file).catch(() => null)
    if (!s) continue
    seen.add(name)
    let entry = idx.ledger[name]
    if (!entry || entry.size !== s.size || entry.mtimeMs !== s.mtimeMs) {
      entry = { ...(await readLedgerFileTotals(file)), size: s.size, mtimeMs: s.mtimeMs }
      idx.ledger[name] = entry
      changed = true
    }
    totals.batches += entry.batches
    totals.failedBatches += entry.failedBatches ?? 0
    totals.docs += entry.docs
    totals.ok += entry.ok
    totals.failed += entry.failed
    totals.repeats += entry.repeats ?? 0
  }
  for (const name of Object.keys(idx.ledger)) {
    if (!seen.has(name)) {
      delete idx.ledger[name]
      changed = true
    }
  }
  return { totals, changed }
}
