import { readdir, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import type { DiskFloor } from '../core/config.js'
import { isNotFound } from '../core/errors.js'
import { ownerIsGone } from '../core/pid.js'
import { diskState } from './disk.js'
import { isTempName, type Layout } from './layout.js'
import { appendToLedger, type LedgerEntry, ledgerDay } from './ledger.js'
import { dropForSetAside, markerMtimeMs, readMarker, retireDone } from './markers.js'
import { markerOnlyIds, scanSpool } from './scan.js'

const DAY_MS = 24 * 60 * 60 * 1000
/** Our own `.tmp-*` files older than this were left by a process that died mid-write. */
export const ORPHAN_TMP_MS = 60 * 60 * 1000

/**
 * Move done markers whose batch finished more than `olderThanMs` ago (and whose
 * batch file is gone) into state/ledger/YYYY-MM-DD.jsonl, then remove them from right/.
 */
export async function compactDoneMarkers(
  layout: Layout,
  olderThanMs: number,
  now = Date.now(),
): Promise<number> {
  const byDay = new Map<string, LedgerEntry[]>()
  for (const id of markerOnlyIds(await scanSpool(layout))) {
    let marker: Awaited<ReturnType<typeof readMarker>>
    try {
      marker = await readMarker(layout, id)
    } catch {
      continue
    }
    if (marker?.state !== 'done' || !marker.finishedAt) continue
    if (now - Date.parse(marker.finishedAt) < olderThanMs) continue
    const day = ledgerDay(marker)
    byDay.set(day, [...(byDay.get(day) ?? []), { ...marker, id }])
  }
  let moved = 0
  for (const [day, entries] of byDay) {
    await appendToLedger(layout, day, entries)
    for (const e of entries) if (await retireDone(layout, e.id)) moved++
  }
  return moved
}

/** The files of `dir` whose name passes `want`, oldest first (only those are stat'ed: left/ may hold thousands). */
async function filesByAge(
  dir: string,
  want: (name: string) => boolean = () => true,
): Promise<{ file: string; mtimeMs: number; size: number }[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if (isNotFound(err)) return []
    throw err
  }
  const out: { file: string; mtimeMs: number; size: number }[] = []
  for (const name of names.filter(want)) {
    const file = path.join(dir, name)
    const s = await stat(file).catch(() => null)
    if (s?.isFile()) out.push({ file, mtimeMs: s.mtimeMs, size: s.size })
  }
  return out.sort((a, b) => a.mtimeMs - b.mtimeMs)
}

async function removeIfThere(file: string): Promise<void> {
  await unlink(file).catch((err: unknown) => {
    if (!isNotFound(err)) throw err
  })
}

/** Delete archived batch files older than `archiveDays`. Returns bytes freed. */
export async function pruneArchive(layout: Layout, archiveDays: number, now = Date.now()): Promise<number> {
  let freed = 0
  for (const f of await filesByAge(layout.archive)) {
    if (now - f.mtimeMs < archiveDays * DAY_MS) break
    await removeIfThere(f.file)
    freed += f.size
  }
  return freed
}

/** Temp files of ours (`.tmp-*`) in left/, right/, state/ and milestones/ whose writer died long ago. */
export async function removeOrphanTemps(layout: Layout, now = Date.now()): Promise<number> {
  let freed = 0
  for (const dir of [layout.left, layout.right, layout.state, layout.milestones]) {
    for (const f of await filesByAge(dir, isTempName)) {
      if (now - f.mtimeMs < ORPHAN_TMP_MS) continue
      await removeIfThere(f.file)
      freed += f.size
    }
  }
  return freed
}

/**
 * Free disk is under the floor: delete what is safe to lose, oldest first, until
 * it is back above: orphan temp files, then archived batch files (they are done).
 * Returns bytes freed; never touches pending batches, markers, milestones of live batches or results.
 */
export async function reclaimDisk(layout: Layout, floor: DiskFloor): Promise<number> {
  let freed = await removeOrphanTemps(layout)
  for (const f of await filesByAge(layout.archive)) {
    if (!(await diskState(layout.root, floor)).low) break
    await removeIfThere(f.file)
    freed += f.size
  }
  return freed
}

/**
 * Claimed markers whose batch file is gone, left by an owner that died between removing the
 * file and the marker (a split, a poison document set aside): nothing can finish them, so
 * they are removed once the owner is gone on this host or silent past `staleMs`. A live
 * owner's is kept (it is about to remove it itself).
 */
export async function removeOrphanClaims(layout: Layout, staleMs: number, now = Date.now()): Promise<number> {
  let removed = 0
  for (const id of markerOnlyIds(await scanSpool(layout))) {
    const marker = await readMarker(layout, id).catch(() => null)
    if (marker?.state !== 'claimed') continue
    const mtimeMs = await markerMtimeMs(layout, id)
    const silent = mtimeMs !== null && now - mtimeMs > staleMs
    if (!ownerIsGone(marker) && !silent) continue
    await dropForSetAside(layout, id)
    removed++
  }
  return removed
}
