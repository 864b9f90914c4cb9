import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { writeFileAtomic } from './atomic.js'
import { type Layout, ledgerDayFile } from './layout.js'
import type { Marker } from './markers.js'

/** One compacted done marker: the marker's JSON plus its batch id. */
export type LedgerEntry = Marker & { id: string }

export interface LedgerTotals {
  batches: number
  /** Batches with at least one failed document. */
  failedBatches: number
  docs: number
  ok: number
  failed: number
  /** Re-sent documents (see Marker.repeats). */
  repeats: number
}

const DAY_FILE = /^\d{4}-\d{2}-\d{2}\.jsonl$/

/** The UTC day a batch finished, for the ledger file name. */
export function ledgerDay(entry: Pick<Marker, 'finishedAt'>, fallback = new Date()): string {
  const at = entry.finishedAt ? new Date(entry.finishedAt) : fallback
  return (Number.isNaN(at.getTime()) ? fallback : at).toISOString().slice(0, 10)
}

/**
 * Add entries to one day's ledger file, skipping ids it already holds (a pass
 * killed after writing the file but before removing the markers repeats them).
 * The file is rewritten atomically: readers see the old or the new whole file.
 */
export async function appendToLedger(layout: Layout, day: string, entries: LedgerEntry[]): Promise<number> {
  const file = ledgerDayFile(layout, day)
  let existing = ''
  try {
    existing = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const have = new Set<string>()
  for (const line of existing.split('\n')) {
    if (!line) continue
    try {
      have.add((JSON.parse(line) as LedgerEntry).id)
    } catch {
      // A damaged line stays as it is; it counts for nothing.
    }
  }
  const fresh = entries.filter((e) => !have.has(e.id))
  if (fresh.length === 0) return 0
  const text = existing + fresh.map((e) => `${JSON.stringify(e)}\n`).join('')
  await writeFileAtomic(file, text)
  return fresh.length
}

export const isLedgerFile = (name: string): boolean => DAY_FILE.test(name)

/** Totals of one ledger file (streamed: a day can hold many lines). */
export async function readLedgerFileTotals(file: string): Promise<LedgerTotals> {
  const totals: LedgerTotals = { batches: 0, failedBatches: 0, docs: 0, ok: 0, failed: 0, repeats: 0 }
  const lines = createInterface({ input: createReadStream(file, 'utf8') })
  for await (const line of lines) {
    if (!line) continue
    try {
      const e = JSON.parse(line) as LedgerEntry
      totals.batches++
      totals.docs += e.docs ?? 0
      totals.ok += e.ok ?? 0
      totals.failed += e.failed ?? 0
      totals.repeats += e.repeats ?? 0
      if ((e.failed ?? 0) > 0) totals.failedBatches++
    } catch {
      // skip a damaged line
    }
  }
  return totals
}
