import { existsSync } from 'node:fs'
import { rename, unlink, utimes } from 'node:fs/promises'
import type { Doc } from '../core/contracts.js'
import { isNotFound } from '../core/errors.js'
import { writeFileAtomic } from './atomic.js'
import { writeBatchFile } from './batch-file.js'
import { archiveFile, type Layout, leftFile, newBatchId } from './layout.js'
import { deleteMilestone } from './milestone.js'

/**
 * The life of a batch file in left/: written once, durably (the one writer used by
 * enqueue, prefetch and dispatch), then retired when its marker says done.
 */
export async function writeNewBatch(
  layout: Layout,
  docs: Doc[],
  source?: string,
  opts: { durable?: boolean } = {},
): Promise<{ id: string; file: string; data: Buffer }> {
  const id = newBatchId()
  const file = leftFile(layout, id)
  const data = await writeBatchFile(file, id, docs, source, opts)
  return { id, file, data }
}

/**
 * A batch file written with `durable: false` whose sync failed: write the same bytes again over
 * it, durably (after a failed fsync its pages may be gone while a second fsync says all is well).
 * A file already gone was claimed, done and retired meanwhile: its documents are in the sink,
 * nothing to write. False then.
 */
export async function rewriteBatchFile(file: string, data: Uint8Array): Promise<boolean> {
  if (!existsSync(file)) return false
  await writeFileAtomic(file, data)
  return true
}

/**
 * A done batch's file: deleted, or moved to archive/ when LR_ARCHIVE_DAYS > 0
 * (its mtime set to now, so pruning counts from when it was done). Its milestone goes too.
 * Already gone (a retry after a crash) is fine.
 */
export async function retireBatchFile(layout: Layout, id: string, archiveDays: number): Promise<void> {
  const file = leftFile(layout, id)
  try {
    if (archiveDays > 0) {
      const kept = archiveFile(layout, id)
      await rename(file, kept)
      const now = new Date()
      await utimes(kept, now, now)
    } else {
      // Off the main thread: freeing a file's blocks is one of the slowest calls here (about 0.4 ms).
      await unlink(file)
    }
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
  await deleteMilestone(layout, id)
}
