import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import path from 'node:path'
import { createGunzip } from 'node:zlib'
import type { DiskFloor } from '../core/config.js'
import type { Doc } from '../core/contracts.js'
import type { Logger } from '../core/log.js'
import { syncFileSystem } from '../store/atomic.js'
import { acceptDoc, packDoc } from '../store/batch-file.js'
import { packNewBatch, writePackedBatch } from '../store/batches.js'
import { ensureLayout, type Layout } from '../store/layout.js'
import { rawInput, writeDead } from '../store/set-aside.js'
import { registerWriter, type WriterHandle, type WriterProgress } from '../store/writers.js'
import { DiskRoom } from './disk-room.js'
import { JsonToMsgpack } from './json-msgpack.js'
import { lineBlocks } from './line-blocks.js'

export interface EnqueueOptions {
  layout: Layout
  batchSize: number
  maxTextBytes: number
  /** Below this much free disk, enqueue waits (LR_MIN_FREE_DISK); none: it writes until the disk is full. */
  minFreeDisk?: DiskFloor
  log: Logger
  /** Stop reading: the documents read so far are still written into batch files. */
  signal?: AbortSignal
  /** Called after each batch file is written: input bytes read so far, of all files, documents and batches. */
  onProgress?: (p: WriterProgress) => void
  /** Called with each batch file's id once it is in left/ (a process's own workers may claim it). */
  onBatch?: (id: string) => void
  /**
   * Its entry in state/writers/ (`enqueue`); false when the caller keeps one for it: `start FILE`'s
   * main thread registers before its enqueue thread begins, and reports the thread's progress.
   */
  register?: boolean
}

export interface EnqueueResult {
  files: number
  lines: number
  docs: number
  batches: number
  dead: number
  bytes: number
}

/** Parse one JSONL line into a document, or say why not. */
export function parseDocLine(line: string, maxTextBytes: number): { doc: Doc } | { reason: string } {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch (err) {
    return { reason: `not valid JSON (${(err as Error).message})` }
  }
  return acceptDoc(value, maxTextBytes)
}

const WRITES_IN_FLIGHT = 4

/**
 * Split JSONL files (`{"doc_id": ..., "text": ...}` per line) into batch files
 * of `batchSize` documents in left/. A bad line goes to dead/ with its file,
 * line number and reason; the rest goes on.
 */
export async function enqueueFiles(files: string[], opts: EnqueueOptions): Promise<EnqueueResult> {
  const { layout } = opts
  await ensureLayout(layout)
  // `start --once` running meanwhile waits for this writer instead of calling left/ drained.
  const writer = opts.register === false ? null : registerWriter(layout, 'enqueue')
  try {
    return await enqueueInto(files, opts, writer)
  } finally {
    writer?.release()
  }
}

async function enqueueInto(
  files: string[],
  opts: EnqueueOptions,
  writer: WriterHandle | null,
): Promise<EnqueueResult> {
  const { layout, log } = opts
  const result: EnqueueResult = { files: 0, lines: 0, docs: 0, batches: 0, dead: 0, bytes: 0 }
  // The next batch's documents, packed as they are read (most lines without a string or an object).
  const packer = new JsonToMsgpack()
  let pending = 0
  const written: string[] = []
  let totalBytes = 0
  for (const file of files) if (file !== '-') totalBytes += (await stat(file).catch(() => ({ size: 0 }))).size
  let doneBytes = 0
  let current: { bytesRead: number } | null = null
  // Not cut short by `signal`: what has been read is written (a thread's stop that waits too long
  // for disk space ends the thread; the input file is still there).
  const room = new DiskRoom('enqueue', layout.root, opts.minFreeDisk, log)
  // Several batch files are written at once (the reading goes on meanwhile). A write that fails
  // for want of space waits for it and is written again; any other failure fails the enqueue at
  // the next flush or at the end, as a sequential one would. None is dropped.
  const inFlight = new Set<Promise<void>>()
  let failed: { err: unknown } | null = null
  const flush = async (source: string): Promise<void> => {
    if (failed) throw failed.err
    if (pending === 0) return
    const docs = pending
    const batch = packNewBatch(packer.bytes(), docs, source)
    pending = 0
    packer.reset()
    await room.waitForFloor(batch.data.length)
    // Not synced one by one: the input is still there if the machine dies first; one sync at the end.
    const write = room
      .write(() => writePackedBatch(layout, batch, { durable: false }))
      .then((file) => {
        result.batches++
        result.docs += docs
        result.bytes += batch.data.length
        written.push(file)
        opts.onBatch?.(batch.id)
        const progress = {
          bytesRead: doneBytes + (current?.bytesRead ?? 0),
          totalBytes,
          docs: result.docs,
          batches: result.batches,
        }
        opts.onProgress?.(progress)
        writer?.report(progress)
      })
    inFlight.add(write)
    write.then(
      () => inFlight.delete(write),
      (err: unknown) => {
        inFlight.delete(write)
        failed ??= { err }
      },
    )
    if (inFlight.size >= WRITES_IN_FLIGHT) await Promise.race(inFlight)
  }
  for (const file of files) {
    if (opts.signal?.aborted) break
    const source = `enqueue:${file === '-' ? 'stdin' : path.basename(file)}`
    // `-` is standard input; a `.gz` file is read through gunzip (progress counts compressed bytes).
    const raw = file === '-' ? process.stdin : createReadStream(file)
    const counted = { bytesRead: 0 }
    raw.on('data', (c: Buffer | string) => {
      counted.bytesRead += c.length
    })
    current = counted
    const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw
    let lineNo = 0
    const readLines = async (): Promise<void> => {
      for await (const block of lineBlocks(input))
        for (const bytes of block) {
          lineNo++
          if (packer.doc(bytes, opts.maxTextBytes)) {
            result.lines++
            if (++pending >= opts.batchSize) await flush(source)
            if (opts.signal?.aborted) return
            continue
          }
          // Not surely a document: the long way, which says why when it is not one.
          const line = bytes.toString('utf8')
          if (line.trim() === '') continue
          result.lines++
          const parsed = parseDocLine(line, opts.maxTextBytes)
          if ('reason' in parsed) {
            result.dead++
            await writeDead(layout, {
              stage: 'enqueue',
              reason: parsed.reason,
              source: { file: file === '-' ? 'stdin' : path.resolve(file), line: lineNo },
              ...rawInput(line),
            })
            log.warn({ file, line: lineNo, reason: parsed.reason }, 'input line set aside in dead/')
            continue
          }
          packer.append(packDoc(parsed.doc))
          if (++pending >= opts.batchSize) await flush(source)
          if (opts.signal?.aborted) return
        }
    }
    // A stop ends the read where it is (a pipe or FIFO may not send its next line for a while);
    // the documents read so far are written below.
    const onAbort = (): void => {
      raw.destroy()
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await readLines()
    } catch (err) {
      if (!opts.signal?.aborted) throw err
    } finally {
      opts.signal?.removeEventListener('abort', onAbort)
    }
    await flush(source)
    doneBytes += counted.bytesRead
    current = null
    result.files++
  }
  await Promise.allSettled(inFlight)
  if (failed) throw (failed as { err: unknown }).err
  await syncFileSystem(layout.left, written)
  return result
}
