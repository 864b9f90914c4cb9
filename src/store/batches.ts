import { type FileHandle, open, rename, unlink, utimes } from 'node:fs/promises'
import path from 'node:path'
import type { Doc } from '../core/contracts.js'
import { isNotFound } from '../core/errors.js'
import { fsyncDir, type OpenFile, writeFileAtomic, writeFileAtomicOpen } from './atomic.js'
import { encodeBatch, encodeBatchPacked } from './batch-file.js'
import { archiveFile, type Layout, leftFile, newBatchId } from './layout.js'
import { deleteMilestone } from './milestone.js'
import { keepAsSpare } from './spares.js'

/** A new batch before it is written: its id and its file's bytes. */
export interface PackedBatch {
  id: string
  data: Buffer
}

/** A new batch of `docs` (packed whole). */
export function newBatch(docs: Doc[], source?: string): PackedBatch {
  const id = newBatchId()
  return { id, data: encodeBatch(id, docs, source) }
}

/** A new batch from its documents packed one after another (encodeBatchPacked). */
export function packNewBatch(packedDocs: Uint8Array, docs: number, source?: string): PackedBatch {
  const id = newBatchId()
  return { id, data: encodeBatchPacked(id, packedDocs, docs, source) }
}

/**
 * The life of a batch file in left/: written once (by enqueue, dispatch and `retry-dead` here,
 * by the prefetcher with writeNewBatchOpen below), then retired when its marker says done.
 */
export async function writeNewBatch(
  layout: Layout,
  docs: Doc[],
  source?: string,
  opts: { durable?: boolean } = {},
): Promise<{ id: string; file: string; data: Buffer }> {
  const batch = newBatch(docs, source)
  return { ...batch, file: await writePackedBatch(layout, batch, opts) }
}

/** Write a new batch as its file in left/, atomically (synced unless `durable: false`). */
export async function writePackedBatch(
  layout: Layout,
  batch: PackedBatch,
  opts: { durable?: boolean } = {},
): Promise<string> {
  const file = leftFile(layout, batch.id)
  await writeFileAtomic(file, batch.data, opts)
  return file
}

/**
 * A new batch file in left/, in place but not synced and still open: the prefetcher makes groups
 * of them durable at once (syncOpenFiles) before acknowledging their entries, then closes them.
 * `spare`: an empty file in left/ to write it into (batch-spares.ts).
 */
export function writeNewBatchOpen(layout: Layout, batch: PackedBatch, spare?: string): OpenFile {
  return writeFileAtomicOpen(leftFile(layout, batch.id), batch.data, spare)
}

/**
 * A batch file written without a sync (writeNewBatchOpen) whose sync failed: write the same bytes again over
 * it, durably (after a failed fsync its pages may be gone while a second fsync says all is well).
 * A file already gone was claimed, done and retired meanwhile: its documents are in the sink,
 * nothing to write. False then.
 * In place, never creating: a file retired while this runs stays gone (a temp file renamed over
 * its name would bring a done batch back to run again). Readers meanwhile see the same bytes.
 */
export async function rewriteBatchFile(file: string, data: Uint8Array): Promise<boolean> {
  let handle: FileHandle
  try {
    handle = await open(file, 'r+')
  } catch (err) {
    if (isNotFound(err)) return false
    throw err
  }
  try {
    await handle.writeFile(data)
    await handle.truncate(data.length)
    await handle.sync()
  } finally {
    await handle.close()
  }
  // The sync pass that failed covered the file's name in left/ too.
  await fsyncDir(path.dirname(file))
  return true
}

/**
 * A done batch's file: kept as a spare inode for a later claim marker (spares.ts; `spare`: only a
 * process whose workers claim, and drop their spares when they stop) or deleted,
 * or moved to archive/ when LR_ARCHIVE_DAYS > 0
 * (its mtime set to now, so pruning counts from when it was done). Its milestone goes too.
 * Already gone (a retry after a crash) is fine.
 */
export async function retireBatchFile(
  layout: Layout,
  id: string,
  archiveDays: number,
  opts: { spare?: boolean } = {},
): Promise<void> {
  const file = leftFile(layout, id)
  try {
    if (archiveDays > 0) {
      const kept = archiveFile(layout, id)
      await rename(file, kept)
      const now = new Date()
      await utimes(kept, now, now)
    } else {
      // Off the main thread: freeing a file's blocks is one of the slowest calls here (about 0.4 ms).
      if (!(opts.spare && keepAsSpare(layout, file))) await unlink(file)
    }
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
  await deleteMilestone(layout, id)
}
