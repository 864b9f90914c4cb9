import { randomBytes } from 'node:crypto'
import {
  closeSync,
  existsSync,
  fsync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { open, rename, unlink } from 'node:fs/promises'
import path from 'node:path'
import { isNotFound } from '../core/errors.js'

/** Random once per process; a counter after it. */
const processTag = randomBytes(4).toString('hex')
let sequence = 0

/**
 * A name part no other write or claim on this host has used: random per process, then a
 * counter (a random draw per call cost ~25 us of the main thread per batch: two per batch).
 */
export const uniqueTag = (): string => `${processTag}${(++sequence).toString(36)}`

/**
 * Write a file so that readers see either nothing or the whole content:
 * write to a dot-temp name in the same folder, fsync, rename, fsync the folder.
 * A failed write (ENOSPC, say) removes its temp file and rethrows.
 * `durable: false` skips both fsyncs: still all-or-nothing for readers while the
 * machine runs, but a power cut may lose the file (or leave the old one). Use it
 * only where losing the write costs a redo, never a document (README: power cuts).
 */
export async function writeFileAtomic(
  file: string,
  data: Uint8Array | string,
  opts: { durable?: boolean } = {},
): Promise<void> {
  const dir = path.dirname(file)
  const tmp = path.join(dir, `.tmp-${path.basename(file)}-${uniqueTag()}`)
  if (opts.durable === false) {
    writeAndRenameSync(tmp, file, data)
    return
  }
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(tmp, 'wx')
    await handle.writeFile(data)
    await handle.sync()
    await handle.close()
    handle = undefined
    await rename(tmp, file)
  } catch (err) {
    await handle?.close().catch(() => {})
    await unlink(tmp).catch(() => {})
    throw err
  }
  await fsyncDir(dir)
}

/**
 * Why some store operations are synchronous. A small-file operation on a local
 * disk (open, write, rename, unlink of a marker or a batch file) takes
 * microseconds; through fs/promises each one is a round trip to libuv's thread
 * pool (two thread wake-ups, a FileHandle, a promise). Profiling the sink-bound
 * job (bench/RESULTS.md, issue 14) found those round trips, about twenty per
 * batch, costing more CPU than the work itself on a 2-core machine. So the hot
 * path (claim, read, mark done, retire) uses the synchronous calls, wrapped in
 * async functions so errors still arrive as rejections. fsync stays off the
 * main thread: it waits for the disk.
 */
function writeAndRenameSync(tmp: string, file: string, data: Uint8Array | string): void {
  closeSync(writeAndRenameOpenSync(tmp, file, data))
}

/**
 * writeAndRenameSync, returning the file still open (its fd) for a later sync. `spare`: an empty
 * file of ours to write instead of creating `tmp` (batch-spares.ts): 'w' creates it again if the
 * temp sweep removed it; removed after that open, the rename finds no name and a create follows.
 */
function writeAndRenameOpenSync(
  tmp: string,
  file: string,
  data: Uint8Array | string,
  spare?: string,
): number {
  let fd: number | undefined
  const through = spare ?? tmp
  try {
    fd = openSync(through, spare ? 'w' : 'wx')
    writeAllSync(fd, data)
    renameSync(through, file)
    return fd
  } catch (err) {
    if (spare && isNotFound(err) && fd !== undefined) {
      closeSync(fd)
      return writeAndRenameOpenSync(tmp, file, data)
    }
    if (fd !== undefined) {
      try {
        closeSync(fd)
      } catch {}
    }
    try {
      unlinkSync(through)
    } catch {}
    throw err
  }
}

/** A file written and renamed into place, not yet synced, still open for its sync. */
export interface OpenFile {
  path: string
  fd: number
}

/**
 * writeFileAtomic with `durable: false`, the file kept open: make it durable with `syncOpenFiles`,
 * then close it with `closeOpenFiles` (whatever the sync did). Its sync is then one round trip to
 * libuv's pool. By path it is three (open, fsync, close), and each waits for the main thread: while
 * the prefetcher decodes and writes the next batches, 600 files synced in passes of 30 took 2-2.5x
 * as long by path as by fd (bench/RESULTS.md, eighth session). `spare`: an empty file in the same
 * folder to write through instead of a new temp file (batch-spares.ts).
 */
export function writeFileAtomicOpen(file: string, data: Uint8Array, spare?: string): OpenFile {
  const tmp = path.join(path.dirname(file), `.tmp-${path.basename(file)}-${uniqueTag()}`)
  return { path: file, fd: writeAndRenameOpenSync(tmp, file, data, spare) }
}

/**
 * Make files written by writeFileAtomicOpen durable in one pass: their fsyncs and the folder's
 * (their names) all at once. Durable only once all are done; until then a power cut may keep a
 * name without its data, as the disk's own writeback could anyway: its entries are not
 * acknowledged, so they come again, and the batch file fails its checksum (set aside in bad/).
 * The folder's fsync took 1-44 ms a pass while the prefetcher wrote on; after the files' fsyncs,
 * as it was, it added that to every pass.
 */
export async function syncOpenFiles(dir: string, files: OpenFile[]): Promise<void> {
  if (files.length === 0) return
  const synced = await Promise.allSettled([
    ...files.map(
      (f) => new Promise<void>((resolve, reject) => fsync(f.fd, (err) => (err ? reject(err) : resolve()))),
    ),
    fsyncDir(dir),
  ])
  const failed = synced.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
}

/** Close files written by writeFileAtomicOpen (once each, after their sync). */
export function closeOpenFiles(files: OpenFile[]): void {
  for (const f of files) {
    try {
      closeSync(f.fd)
    } catch {
      // Nothing to do about a failed close of a file already synced (or given up on).
    }
  }
}

/** unlink, synchronously (a hot-path call); true when this call removed it, false when it was gone already. */
export function unlinkIfThere(file: string): boolean {
  try {
    unlinkSync(file)
    return true
  } catch (err) {
    if (isNotFound(err)) return false
    throw err
  }
}

/** unlink, synchronously, whatever happens: for clean-up where a failure changes nothing. */
export function unlinkQuiet(file: string): void {
  try {
    unlinkSync(file)
  } catch {}
}

/**
 * Probes for files that are almost always absent (a batch's put-back history, its milestone):
 * existsSync first, because a failed open or unlink throws, and the thrown error cost ~15 us
 * of the main thread per probe (four per batch); existsSync ~3 us. A file removed between
 * the two calls is still handled as absent.
 */
export function readIfPresent(file: string): Buffer | null {
  if (!existsSync(file)) return null
  try {
    return readFileSync(file)
  } catch (err) {
    if (isNotFound(err)) return null
    throw err
  }
}

/** unlinkIfThere for a file that is almost always absent (see readIfPresent). */
export function unlinkIfPresent(file: string): boolean {
  return existsSync(file) && unlinkIfThere(file)
}

/**
 * `text` over the start of an existing file, which then ends with it (write, then truncate, on
 * one open): no rename, no new inode; over a file that has blocks, no new block either.
 */
export function overwriteSync(file: string, text: string): void {
  const buf = Buffer.from(text)
  const fd = openSync(file, 'r+')
  try {
    writeAllSync(fd, buf)
    ftruncateSync(fd, buf.length)
  } finally {
    closeSync(fd)
  }
}

/** write(2) until all of `data` is written (a short write is legal). */
export function writeAllSync(fd: number, data: Uint8Array | string): void {
  const buf = typeof data === 'string' ? Buffer.from(data) : data
  let off = 0
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off)
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await handle.close()
  }
}

/**
 * Make everything written so far on the file system holding `dir` durable, in one
 * call: coreutils' `sync -f` (syncfs). Where it is not available, fsync each file
 * and the folder. For writers that write many files and can say "durable" once
 * at the end (enqueue: its input file is still there if the machine dies first).
 */
export async function syncFileSystem(dir: string, files: string[]): Promise<void> {
  // Loaded here: only enqueue's end needs it, and it is ~5 ms of every start-up.
  const { execFile } = await import('node:child_process')
  const ok = await new Promise<boolean>((resolve) => {
    execFile('sync', ['-f', dir], (err) => resolve(err === null))
  })
  if (!ok) await syncFiles(dir, files)
}

/**
 * Make files written with `durable: false` durable in one pass: their fsyncs at once (the
 * file system can commit them together), then the folder's once, for the renames. A file
 * already gone was consumed meanwhile (a batch done and retired): nothing left to keep.
 */
export async function syncFiles(dir: string, files: string[]): Promise<void> {
  if (files.length === 0) return
  await Promise.all(
    files.map(async (file) => {
      let handle: Awaited<ReturnType<typeof open>>
      try {
        handle = await open(file, 'r')
      } catch (err) {
        if (isNotFound(err)) return
        throw err
      }
      try {
        await handle.sync()
      } finally {
        await handle.close()
      }
    }),
  )
  await fsyncDir(dir)
}
