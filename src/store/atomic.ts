import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'
import path from 'node:path'

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
  const durable = opts.durable ?? true
  const dir = path.dirname(file)
  const tmp = path.join(dir, `.tmp-${path.basename(file)}-${randomBytes(4).toString('hex')}`)
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(tmp, 'wx')
    await handle.writeFile(data)
    if (durable) await handle.sync()
    await handle.close()
    handle = undefined
    await rename(tmp, file)
  } catch (err) {
    await handle?.close().catch(() => {})
    await unlink(tmp).catch(() => {})
    throw err
  }
  if (durable) await fsyncDir(dir)
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
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
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
