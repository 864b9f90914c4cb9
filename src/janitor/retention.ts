import { mkdir, readdir, readFile, rename, stat, unlink, utimes } from 'node:fs/promises'
import path from 'node:path'
import type { Marker } from '../claim/marker.js'
import type { DiskFloor } from '../config.js'
import { deleteMilestone } from '../pipeline/milestone.js'
import { diskState } from '../spool/disk.js'
import { BATCH_EXT, isBatchId, type Layout, leftFile, markerFile } from '../spool/layout.js'
import { appendToLedger, type LedgerEntry, ledgerDay } from '../spool/ledger.js'

const DAY_MS = 24 * 60 * 60 * 1000
/** Our own `.tmp-*` files older than this were left by a process that died mid-write. */
const ORPHAN_TMP_MS = 60 * 60 * 1000

/**
 * A done batch's file: deleted, or moved to archive/ when LR_ARCHIVE_DAYS > 0
 * (its mtime set to now, so pruning counts from when it was done). Its milestone goes too.
 */
export async function retireBatchFile(layout: Layout, id: string, archiveDays: number): Promise<void> {
  const file = leftFile(layout, id)
  if (archiveDays > 0) {
    const kept = path.join(layout.archive, id + BATCH_EXT)
    await mkdir(layout.archive, { recursive: true })
    try {
      await rename(file, kept)
      const now = new Date()
      await utimes(kept, now, now)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  } else {
    await unlink(file).catch(() => {})
  }
  await deleteMilestone(layout, id)
}

/**
 * Move done markers whose batch finished more than `olderThanMs` ago (and whose
 * batch file is gone) into state/ledger/YYYY-MM-DD.jsonl, then remove them from right/.
 */
export async function compactDoneMarkers(
  layout: Layout,
  olderThanMs: number,
  now = Date.now(),
): Promise<number> {
  const [rightNames, leftNames] = await Promise.all([readdir(layout.right), readdir(layout.left)])
  const inLeft = new Set(leftNames)
  const byDay = new Map<string, LedgerEntry[]>()
  for (const id of rightNames) {
    if (!isBatchId(id) || inLeft.has(id + BATCH_EXT)) continue
    let marker: Marker
    try {
      marker = JSON.parse(await readFile(markerFile(layout, id), 'utf8')) as Marker
    } catch {
      continue
    }
    if (marker.state !== 'done' || !marker.finishedAt) continue
    if (now - Date.parse(marker.finishedAt) < olderThanMs) continue
    const day = ledgerDay(marker)
    byDay.set(day, [...(byDay.get(day) ?? []), { ...marker, id }])
  }
  let moved = 0
  for (const [day, entries] of byDay) {
    await appendToLedger(layout, day, entries)
    for (const e of entries) {
      await unlink(markerFile(layout, e.id)).catch(() => {})
      moved++
    }
  }
  return moved
}

async function filesByAge(dir: string): Promise<{ file: string; mtimeMs: number; size: number }[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const out: { file: string; mtimeMs: number; size: number }[] = []
  for (const name of names) {
    const file = path.join(dir, name)
    const s = await stat(file).catch(() => null)
    if (s?.isFile()) out.push({ file, mtimeMs: s.mtimeMs, size: s.size })
  }
  return out.sort((a, b) => a.mtimeMs - b.mtimeMs)
}

/** Delete archived batch files older than `archiveDays`. Returns bytes freed. */
export async function pruneArchive(layout: Layout, archiveDays: number, now = Date.now()): Promise<number> {
  let freed = 0
  for (const f of await filesByAge(layout.archive)) {
    if (now - f.mtimeMs < archiveDays * DAY_MS) break
    await unlink(f.file).catch(() => {})
    freed += f.size
  }
  return freed
}

/** Temp files of ours (`.tmp-*`) in left/, right/ and state/ whose writer died long ago. */
export async function removeOrphanTemps(layout: Layout, now = Date.now()): Promise<number> {
  let freed = 0
  for (const dir of [layout.left, layout.right, layout.state, layout.milestones]) {
    for (const f of await filesByAge(dir)) {
      if (!path.basename(f.file).startsWith('.tmp-') || now - f.mtimeMs < ORPHAN_TMP_MS) continue
      await unlink(f.file).catch(() => {})
      freed += f.size
    }
  }
  return freed
}

/**
 * Free disk is under the floor: delete what is safe to lose, oldest first, until
 * it is back above: archived batch files (they are done), then orphan temp files.
 * Returns bytes freed; never touches pending batches, markers, milestones of live batches or results.
 */
export async function reclaimDisk(layout: Layout, floor: DiskFloor): Promise<number> {
  let freed = await removeOrphanTemps(layout)
  for (const f of await filesByAge(layout.archive)) {
    if (!(await diskState(layout.root, floor)).low) break
    await unlink(f.file).catch(() => {})
    freed += f.size
  }
  return freed
}
