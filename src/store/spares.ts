import { closeSync, fstatSync, ftruncateSync, futimesSync, linkSync, openSync, renameSync } from 'node:fs'
import path from 'node:path'
import { overwriteSync, uniqueTag, unlinkQuiet } from './atomic.js'
import type { Layout } from './layout.js'

/**
 * Spare inodes for claim markers: a done batch's file becomes a later claim's marker.
 *
 * Why: these machines' ext4 has no journal, and such an ext4 does not reuse an inode freed in the
 * last minutes; every new inode's search steps past each one (bench/RESULTS.md, tenth session).
 * A batch retires a file and claims another batch with a new marker: the n-th claim's create
 * paid for every batch file deleted before it, up to 1.5 ms of the main thread a claim. Renaming
 * the retired file instead of deleting it, and linking it under the marker's name, allocates and
 * frees no inode at all.
 *
 * A spare is `right/.tmp-spare-<tag>`: in right/, so linking it there never crosses file systems;
 * a dot name, so nothing takes it for a marker (layout.ts: names starting with "." are in-flight
 * writes). Only the process that made a spare uses it (the list is in its memory), so a crash
 * leaves spares nobody writes into: the janitor's sweep of temp files older than an hour removes
 * their names (and only the name, when a crash came between the link and the unlink: the marker
 * keeps its inode). A spare removed by that sweep while its process still lists it is written
 * anew: a create, as without spares.
 *
 * The claim stays an exclusive create of the marker's name: link() fails with EEXIST when the
 * name is taken, as `open(wx)` does. And the marker now appears whole (written before the link),
 * never empty.
 */

/** Spares one process keeps per data dir; more retired files are deleted as before. */
export const MAX_SPARES = 16
/** What a spare keeps of its batch file: one block, which a marker (well under 4 KiB) is written over. */
const KEEP_BYTES = 4096

/** right/ folder -> the spares this process keeps there, ready to be written. */
const pools = new Map<string, string[]>()
/** right/ folders whose file system refused a hard link (EPERM, say): no spares there. */
const noLinks = new Set<string>()

const poolOf = (layout: Layout): string[] => {
  let pool = pools.get(layout.right)
  if (!pool) {
    pool = []
    pools.set(layout.right, pool)
  }
  return pool
}

/**
 * A done batch's file: kept as a spare (renamed into right/, cut to its first KEEP_BYTES) when this
 * process keeps fewer than MAX_SPARES and left/ and right/ share a file system. False when not
 * kept: the caller deletes it. A file already gone is the caller's to handle (the rename's ENOENT
 * is thrown).
 * Not emptied: on this ext4 writing a marker into an empty file cost 56-436 us (a new block to
 * allocate), into one that kept a block 16-22 us with the truncate to the marker's length
 * (bench/RESULTS.md, fifteenth session). Not kept whole either: MAX_SPARES batch files of disk
 * held back kept a small disk under LR_MIN_FREE_DISK while enqueue waited for room (the
 * disk-full tests). All synchronous: a rename, an open, a truncate that frees the rest, a utimes.
 */
export function keepAsSpare(layout: Layout, file: string): boolean {
  const pool = poolOf(layout)
  if (pool.length >= MAX_SPARES || noLinks.has(layout.right)) return false
  const spare = path.join(layout.right, `.tmp-spare-${uniqueTag()}`)
  try {
    renameSync(file, spare)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EXDEV') return false
    throw err
  }
  try {
    const fd = openSync(spare, 'r+')
    try {
      if (fstatSync(fd).size > KEEP_BYTES) ftruncateSync(fd, KEEP_BYTES)
      // Dated now, not when the batch was written (it may have waited hours in left/): the sweep
      // of temp files older than an hour leaves it alone while it is listed.
      const now = new Date()
      futimesSync(fd, now, now)
    } finally {
      closeSync(fd)
    }
  } catch {
    // Not cut or not dated: not a spare (retired all the same).
    unlinkQuiet(spare)
    return true
  }
  pool.push(spare)
  return true
}

/**
 * Exclusive create of `file` holding `text`, on a spare: true when it is ours, false when the name
 * was taken (the spare is kept for the next claim), null when this process keeps no spare here.
 * Synchronous, as the claim path is (atomic.ts says why). The spare is written first (over the
 * done batch's bytes, then truncated to the text), then linked: readers never see the marker
 * empty or holding anything but the claim.
 */
export function linkSpareSync(layout: Layout, file: string, text: string): boolean | null {
  const pool = pools.get(layout.right)
  const spare = pool?.pop()
  if (pool === undefined || spare === undefined) return null
  try {
    overwriteSync(spare, text)
  } catch (err) {
    unlinkQuiet(spare)
    // A full disk is the claim's error, as for a create; any other (the temp sweep removed the
    // spare, say): this spare is gone, create.
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw err
    return null
  }
  try {
    linkSync(spare, file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') {
      pool.push(spare)
      return false
    }
    // Removed by the temp sweep since it was written: create.
    if (code === 'ENOENT') return null
    unlinkQuiet(spare)
    if (code === 'ENOSPC') throw err
    // The file system refused the link itself (no hard links there): claims create their markers.
    noLinks.add(layout.right)
    dropSpares(layout)
    return null
  }
  // One name left, the marker's: no inode is freed.
  unlinkQuiet(spare)
  return true
}

/** Remove the spares this process keeps in a data dir (its workers stop). */
export function dropSpares(layout: Layout): void {
  const pool = pools.get(layout.right)
  pools.delete(layout.right)
  for (const spare of pool ?? []) unlinkQuiet(spare)
}
