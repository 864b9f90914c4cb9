import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, renameSync, statSync, unlinkSync } from 'node:fs'
import path from 'node:path'
import { isNotFound } from '../core/errors.js'

/** Spares kept per folder; a done batch file beyond that is deleted. */
const MAX_SPARES = 256
/** An empty list of ready spares looks at the folder again (other processes' spares) at most this often. */
const RESCAN_MS = 100

const tag = randomBytes(4).toString('hex')
let made = 0
const spareName = (): string => `${tag}${(++made).toString(36)}`

/**
 * Files kept for reuse instead of deleted and created again (state/spares/).
 *
 * Why: these machines' ext4 runs without a journal, and there a new inode is never one freed in
 * the last minute (five when its inode table block is dirty): `ext4_new_inode` reads past every
 * recently deleted inode of the group (`recently_deleted()`, ~11% of all CPU samples in a
 * `perf` of the sink-bound job). Every batch deleted its file at retire and created two (its
 * batch file, its claim marker), so each create read past the thousands deleted just before:
 * 0.2 to 0.6 ms of kernel CPU per create (bench/RESULTS.md, issue 14).
 *
 * So a done batch file is renamed into state/spares/ instead of deleted, and a new batch file
 * or claim marker takes a spare (a rename: exclusive, since a spare another process took first
 * is gone) instead of a new inode. Its old bytes are overwritten and the file truncated. At
 * most MAX_SPARES wait here (a few MB); the janitor deletes them when the disk runs low.
 * Every operation falls back to delete / create when no spare is ready.
 */
class SparePool {
  private ready: string[] = []
  private scannedAt = 0

  constructor(private readonly dir: string) {}

  /** Rename `file` into the pool; false when the pool is full or unusable (delete it instead). ENOENT: `file` is gone. */
  keep(file: string): boolean {
    if (this.ready.length >= MAX_SPARES) return false
    const spare = path.join(this.dir, spareName())
    try {
      renameSync(file, spare)
    } catch (err) {
      // The file itself gone is the caller's business; no spares folder (an old layout) or
      // another file system: no pool.
      if (isNotFound(err) && !existsSync(this.dir)) return false
      if ((err as NodeJS.ErrnoException).code === 'EXDEV') return false
      throw err
    }
    this.ready.push(spare)
    return true
  }

  /** Rename a spare to `target` (a name only this process uses); false when none is ready. */
  takeInto(target: string): boolean {
    for (;;) {
      const spare = this.ready.pop() ?? (this.rescan() ? this.ready.pop() : undefined)
      if (spare === undefined) return false
      try {
        renameSync(spare, target)
        return true
      } catch (err) {
        // Another process took it first: the next one.
        if (!isNotFound(err)) throw err
      }
    }
  }

  /** Delete every spare in the folder, this process's and others'; returns the bytes freed. */
  removeAll(): number {
    this.rescan(true)
    let freed = 0
    for (const spare of this.ready.splice(0)) {
      try {
        const { size } = statSync(spare)
        unlinkSync(spare)
        freed += size
      } catch {}
    }
    return freed
  }

  private rescan(force = false): boolean {
    const now = Date.now()
    if (!force && now - this.scannedAt < RESCAN_MS) return false
    this.scannedAt = now
    try {
      // Dot-names are a process's spare taken and in use: not ready.
      this.ready = readdirSync(this.dir)
        .filter((n) => !n.startsWith('.'))
        .map((n) => path.join(this.dir, n))
    } catch {
      this.ready = []
    }
    return this.ready.length > 0
  }
}

const pools = new Map<string, SparePool>()
const poolAt = (dir: string): SparePool => {
  let pool = pools.get(dir)
  if (!pool) {
    pool = new SparePool(dir)
    pools.set(dir, pool)
  }
  return pool
}

/**
 * Keep `file` (a done batch file) in the spares folder `dir` instead of deleting it. False when
 * the pool is full or unusable: delete it then. ENOENT when `file` is gone.
 */
export function keepAsSpare(dir: string, file: string): boolean {
  return poolAt(dir).keep(file)
}

/** Move a spare from `dir` to `target` (a name only this process uses); false when none is ready. */
export function takeSpare(dir: string, target: string): boolean {
  return poolAt(dir).takeInto(target)
}

/** A spare this process took and did not use: back into the pool, or deleted when it is full. */
export function giveBackSpare(dir: string, file: string): void {
  try {
    if (!keepAsSpare(dir, file)) unlinkSync(file)
  } catch {}
}

/** Delete every spare in `dir` (the disk runs low); returns the bytes freed. */
export function removeSpares(dir: string): number {
  return poolAt(dir).removeAll()
}
