import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'

/**
 * Every path of the data dir, in one place (right/ markers: see markers.ts, the only
 * module that names them). Under the data dir:
 *   left/<id>.msgpack       a batch waiting (or being processed)
 *   left/.tmp-spare-*       an empty file the prefetcher made while idle, for its next batch file (batch-spares.ts)
 *   right/<id>              its marker: whoever created it with `wx` owns the batch
 *   right/.tmp-spare-*      a done batch's emptied file, kept for a later marker (spares.ts)
 *   milestones/<id>.msgpack recognition output saved before mapping and insert
 *   bad/<id>.msgpack + bad/<id>.reason.json   batch files set aside
 *   dead/*.json             documents set aside, with the reason
 *   archive/<id>.msgpack    done batch files, only when LR_ARCHIVE_DAYS asks to keep them
 *   results/<id>.jsonl      file-sink output
 *   state/                  checkpoints and bookkeeping:
 *     attempts/<id>.json      put-back history of a batch (janitor)
 *     ledger/YYYY-MM-DD.jsonl done markers compacted by the janitor (one JSON line per batch)
 *     writers/<host>-<pid>.json  a process writing into left/ now (enqueue; see writers.ts)
 *     prefetch.json, gpu.json, status-index.json, sample-enqueued.json,
 *     dispatch-<source>-<target>.json, janitor.lock/, janitor.owner
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
  ledger: string
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

/** Does this folder look like a data dir (has left/ and right/)? */
export function isDataDir(layout: Layout): boolean {
  return existsSync(layout.left) && existsSync(layout.right)
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
    layout.archive,
    layout.results,
  ]) {
    await mkdir(dir, { recursive: true })
  }
}

type Translator = ReturnType<typeof import('short-uuid').createTranslator>
let translator: Translator | null = null

/**
 * A new batch id. short-uuid (CommonJS) loads with the first id: workers only read ids, and
 * loading it cost ~8 ms before a process's first claim.
 */
export function newBatchId(): string {
  translator ??= (
    createRequire(import.meta.url)('short-uuid') as typeof import('short-uuid')
  ).createTranslator()
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

export const isTempName = (name: string): boolean => name.startsWith('.tmp-')

export const leftFile = (layout: Layout, id: string): string => path.join(layout.left, id + BATCH_EXT)
export const milestoneFile = (layout: Layout, id: string): string =>
  path.join(layout.milestones, id + BATCH_EXT)
export const archiveFile = (layout: Layout, id: string): string => path.join(layout.archive, id + BATCH_EXT)
export const badFile = (layout: Layout, id: string): string => path.join(layout.bad, id + BATCH_EXT)
export const badReasonFile = (layout: Layout, id: string): string =>
  path.join(layout.bad, `${id}.reason.json`)
export const deadFile = (layout: Layout, name: string): string => path.join(layout.dead, name)
export const resultsFile = (layout: Layout, id: string): string => path.join(layout.results, `${id}.jsonl`)
export const attemptsFile = (layout: Layout, id: string): string => path.join(layout.attempts, `${id}.json`)
export const ledgerDayFile = (layout: Layout, day: string): string => path.join(layout.ledger, `${day}.jsonl`)

/** Named files under state/. */
export const stateFiles = (layout: Layout) => ({
  /** Written by the prefetcher on start and on every pause/resume; read by `status`. */
  prefetch: path.join(layout.state, 'prefetch.json'),
  /** Written by the worker pool every second: the GPU cap's limit and calls in flight; read by `status`. */
  gpu: path.join(layout.state, 'gpu.json'),
  /** What `status` has already counted (see ops/status-index.ts). */
  statusIndex: path.join(layout.state, 'status-index.json'),
  /** The shipped sample was enqueued once into this data dir. */
  sample: path.join(layout.state, 'sample-enqueued.json'),
  /** proper-lockfile locks this folder (it creates `janitor.lock` beside it). */
  janitorLock: path.join(layout.state, 'janitor'),
  janitorOwner: path.join(layout.state, 'janitor.owner'),
})

/** state/dispatch-<source>-<target>.json: dispatch's resumable position. */
export function dispatchCheckpointFile(layout: Layout, source: string, target: string): string {
  const safe = target.replace(/[^\w.-]+/g, '_')
  return path.join(layout.state, `dispatch-${source}-${safe}.json`)
}
