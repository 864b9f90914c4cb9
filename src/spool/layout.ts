import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { createTranslator } from 'short-uuid'

/**
 * The on-disk contract, in one place. Under the data dir:
 *   left/<id>.msgpack      a batch waiting (or being processed)
 *   right/<id>             its marker: whoever created it with `wx` owns the batch
 *   milestones/<id>.msgpack recognition output saved before mapping and insert
 *   bad/<id>.msgpack + bad/<id>.reason.json   batch files set aside
 *   dead/*.json            documents set aside, with the reason
 *   state/                 checkpoints and bookkeeping
 *   state/attempts/<id>.json  put-back history of a batch (janitor)
 *   state/ledger/YYYY-MM-DD.jsonl  done markers compacted by the janitor (one JSON line per batch, with its id)
 *   archive/<id>.msgpack   done batch files, only when LR_ARCHIVE_DAYS asks to keep them
 *   results/<id>.jsonl     file-sink output
 * Names starting with "." are in-flight writes (ours: .tmp-*, rsync's: .name.XXXXXX).
 */
export const BATCH_EXT = '.msgpack'
const ID_RE = /^[0-9A-Za-z]{22}$/

export interface Layout {
  root: string
  left: string
  right: string
  milestones: string
  bad: string
  dead: string
  state: string
  attempts: string
  /** state/ledger/YYYY-MM-DD.jsonl: done markers compacted by the janitor, one line per batch. */
  ledger: string
  /** Done batch files kept for LR_ARCHIVE_DAYS (when set). */
  archive: string
  results: string
}

export function layoutOf(dataDir: string): Layout {
  const root = path.resolve(dataDir)
  return {
    root,
    left: path.join(root, 'left'),
    right: path.join(root, 'right'),
    milestones: path.join(root, 'milestones'),
    bad: path.join(root, 'bad'),
    dead: path.join(root, 'dead'),
    state: path.join(root, 'state'),
    attempts: path.join(root, 'state', 'attempts'),
    ledger: path.join(root, 'state', 'ledger'),
    archive: path.join(root, 'archive'),
    results: path.join(root, 'results'),
  }
}

export async function ensureLayout(layout: Layout): Promise<void> {
  for (const dir of [
    layout.left,
    layout.right,
    layout.milestones,
    layout.bad,
    layout.dead,
    layout.state,
    layout.attempts,
    layout.ledger,
    layout.results,
  ]) {
    await mkdir(dir, { recursive: true })
  }
}

const translator = createTranslator()

export function newBatchId(): string {
  return translator.generate()
}

export function isBatchId(name: string): boolean {
  return ID_RE.test(name)
}

export type LeftName = { kind: 'batch'; id: string } | { kind: 'in-flight' } | { kind: 'invalid' }

/** Classify a file name found in left/. */
export function classifyLeftName(name: string): LeftName {
  if (name.startsWith('.')) return { kind: 'in-flight' }
  if (!name.endsWith(BATCH_EXT)) return { kind: 'invalid' }
  const id = name.slice(0, -BATCH_EXT.length)
  return isBatchId(id) ? { kind: 'batch', id } : { kind: 'invalid' }
}

export const leftFile = (layout: Layout, id: string): string => path.join(layout.left, id + BATCH_EXT)
export const markerFile = (layout: Layout, id: string): string => path.join(layout.right, id)
export const milestoneFile = (layout: Layout, id: string): string =>
  path.join(layout.milestones, id + BATCH_EXT)
/** Written by the prefetcher on start and on every pause/resume; read by `status`. */
export const prefetchStateFile = (layout: Layout): string => path.join(layout.state, 'prefetch.json')
/** Written by the worker pool every second: the GPU cap's limit and calls in flight; read by `status`. */
export const gpuStateFile = (layout: Layout): string => path.join(layout.state, 'gpu.json')
