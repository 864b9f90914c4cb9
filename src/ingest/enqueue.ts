import { createReadStream } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import type { Logger } from '../log.js'
import { acceptDoc, type Doc, writeBatchFile } from '../spool/batch-file.js'
import { ensureLayout, type Layout, leftFile, newBatchId } from '../spool/layout.js'
import { writeDead } from '../spool/set-aside.js'

export interface EnqueueOptions {
  layout: Layout
  batchSize: number
  maxTextBytes: number
  log: Logger
  signal?: AbortSignal
}

export interface EnqueueResult {
  files: number
  lines: number
  docs: number
  batches: number
  dead: number
  bytes: number
}

const RAW_KEEP_CHARS = 10_000

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

/**
 * Split JSONL files (`{"doc_id": ..., "text": ...}` per line) into batch files
 * of `batchSize` documents in left/. A bad line goes to dead/ with its file,
 * line number and reason; the rest goes on.
 */
export async function enqueueFiles(files: string[], opts: EnqueueOptions): Promise<EnqueueResult> {
  const { layout, log } = opts
  await ensureLayout(layout)
  const result: EnqueueResult = { files: 0, lines: 0, docs: 0, batches: 0, dead: 0, bytes: 0 }
  let pending: Doc[] = []
  const flush = async (source: string): Promise<void> => {
    if (pending.length === 0) return
    const id = newBatchId()
    result.bytes += await writeBatchFile(leftFile(layout, id), id, pending, source)
    result.batches++
    result.docs += pending.length
    pending = []
  }
  for (const file of files) {
    if (opts.signal?.aborted) break
    const source = `enqueue:${path.basename(file)}`
    const lines = createInterface({
      input: createReadStream(file, 'utf8'),
      crlfDelay: Number.POSITIVE_INFINITY,
    })
    let lineNo = 0
    for await (const line of lines) {
      lineNo++
      if (line.trim() === '') continue
      result.lines++
      const parsed = parseDocLine(line, opts.maxTextBytes)
      if ('reason' in parsed) {
        result.dead++
        await writeDead(layout, {
          stage: 'enqueue',
          reason: parsed.reason,
          source: { file: path.resolve(file), line: lineNo },
          item: line.length > RAW_KEEP_CHARS ? `${line.slice(0, RAW_KEEP_CHARS)}...` : line,
        })
        log.warn({ file, line: lineNo, reason: parsed.reason }, 'input line set aside in dead/')
        continue
      }
      pending.push(parsed.doc)
      if (pending.length >= opts.batchSize) await flush(source)
      if (opts.signal?.aborted) break
    }
    await flush(source)
    result.files++
  }
  return result
}
