import type { Dirent } from 'node:fs'
import { lstat, readdir } from 'node:fs/promises'
import path from 'node:path'
import { ownerIsGone } from '../core/pid.js'
import { classifyLeftName, isBatchId, type Layout } from './layout.js'
import type { Marker } from './markers.js'

/**
 * One look at left/ against right/, with one meaning of each word:
 * - pending: a batch file in left/ without a marker;
 * - marked: a batch file in left/ with a marker (claimed, done-not-yet-retired, or reserved for handoff);
 * - marker-only: a marker whose batch file is gone (done and retired, or handed off).
 * Two readdirs, no file opened: cheap enough for every rescan.
 */
export interface SpoolScan {
  /** Batch ids with a file in left/. */
  left: Set<string>
  /** Ids with a marker in right/ (non-id names are ignored). */
  right: Set<string>
  /** Names in left/ that are neither batches nor in-flight writes. */
  invalid: string[]
  /** Batch-like names in left/ that are not regular files (a folder, a FIFO, a symlink): never claimed. */
  notFiles: string[]
}

export async function scanSpool(layout: Layout): Promise<SpoolScan> {
  const [leftEntries, rightNames] = await Promise.all([
    readdir(layout.left, { withFileTypes: true }),
    readdir(layout.right),
  ])
  const left = new Set<string>()
  const invalid: string[] = []
  const notFiles: string[] = []
  for (const entry of leftEntries) {
    const c = classifyLeftName(entry.name)
    if (c.kind === 'batch') {
      if (await isRegularFile(layout.left, entry)) left.add(c.id)
      else notFiles.push(entry.name)
    } else if (c.kind === 'invalid') invalid.push(entry.name)
  }
  // Dot names in right/ are in-flight writes and spares (spares.ts), never markers.
  return { left, right: new Set(rightNames.filter(isBatchId)), invalid, notFiles }
}

/** The file system says the type in the listing; where it cannot (DT_UNKNOWN), ask lstat. */
async function isRegularFile(dir: string, entry: Dirent): Promise<boolean> {
  if (entry.isFile()) return true
  if (entry.isDirectory() || entry.isSymbolicLink() || entry.isFIFO() || entry.isSocket()) return false
  if (entry.isBlockDevice() || entry.isCharacterDevice()) return false
  const s = await lstat(path.join(dir, entry.name)).catch(() => null)
  return s?.isFile() ?? false
}

export function pendingIds(scan: SpoolScan): string[] {
  const out: string[] = []
  for (const id of scan.left) if (!scan.right.has(id)) out.push(id)
  return out
}

export function markedIds(scan: SpoolScan): string[] {
  const out: string[] = []
  for (const id of scan.left) if (scan.right.has(id)) out.push(id)
  return out
}

export function markerOnlyIds(scan: SpoolScan): string[] {
  const out: string[] = []
  for (const id of scan.right) if (!scan.left.has(id)) out.push(id)
  return out
}

export type ClaimVerdict = { stale: false; ageMs: number } | { stale: true; reason: string; ageMs: number }

/**
 * Is a claimed marker stale? Its owner pid on this host is gone: at once.
 * Otherwise: its heartbeat (mtime) is older than staleMs. An unwritten marker
 * (its creator died between create and write) is judged by age alone.
 */
export function judgeClaim(marker: Marker, mtimeMs: number, staleMs: number, now = Date.now()): ClaimVerdict {
  const ageMs = now - mtimeMs
  if (ownerIsGone(marker)) return { stale: true, reason: `owner pid ${marker.pid} is gone`, ageMs }
  if (ageMs > staleMs) return { stale: true, reason: `heartbeat ${Math.round(ageMs / 1000)}s old`, ageMs }
  return { stale: false, ageMs }
}
