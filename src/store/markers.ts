import { closeSync, openSync, readFileSync, unlinkSync } from 'node:fs'
import { open, stat, utimes } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { ClaimLostError, isNotFound } from '../core/errors.js'
import {
  overwriteSync,
  uniqueTag,
  unlinkIfThere,
  unlinkQuiet,
  writeAllSync,
  writeFileAtomic,
} from './atomic.js'
import type { Layout } from './layout.js'
import { linkSpareSync } from './spares.js'

/**
 * right/<id>: the marker. The only module that creates, rewrites or removes one;
 * every transition is a named function here with its precondition:
 *
 *   (none) --claim--> claimed --markAlone--> claimed alone --finish--> done --retireDone--> (none)
 *   claimed --release (own claim) / putBack (stale, janitor) / dropForSetAside--> (none)
 *   (none) --reserveForHandoff--> handed-off --markHandedOff--> handed-off (verified)
 *   handed-off (not yet verified) --releaseHandoff--> (none)
 *
 * Created with exclusive create (`wx`, or link() of a spare inode: spares.ts), so exactly one
 * creator owns the batch.
 * Small JSON a person can `cat`. While claimed, its mtime is the heartbeat.
 * `claim` is a random token telling this claim apart from a later one on the
 * same batch (after a put-back).
 */
export type MarkerState = 'claimed' | 'done' | 'handed-off'

export interface Marker {
  state: MarkerState
  host: string
  pid: number
  worker: string
  claim: string
  claimedAt: string
  finishedAt?: string
  docs?: number
  ok?: number
  failed?: number
  /** Claimed by a worker that ran it alone in its process (a suspect after a crash): a crash now is its own. */
  alone?: boolean
  /** Documents whose doc_id came again later in the same batch (re-sends: the last one won). */
  repeats?: number
  /** handed-off: where the batch was sent, and when the copy was verified and removed here. */
  to?: string
  handedOffAt?: string
}

export interface DoneCounts {
  docs: number
  ok: number
  failed: number
  repeats?: number
}

const markerFile = (layout: Layout, id: string): string => path.join(layout.right, id)

/** A marker created but not yet written (its creator is between `open` and `write`, or died there). */
const UNWRITTEN: Marker = { state: 'claimed', host: '', pid: 0, worker: '', claim: '', claimedAt: '' }

const STATES = new Set<unknown>(['claimed', 'done', 'handed-off'] satisfies MarkerState[])

function parseMarker(text: string): Marker {
  // For an instant after exclusive create a marker is empty: it is a claim all the same.
  if (text.trim() === '') return { ...UNWRITTEN }
  try {
    const m = JSON.parse(text) as Marker
    // A marker caught mid-rewrite can be valid JSON with a state made of both (finish says more).
    return STATES.has(m?.state) ? m : { ...UNWRITTEN }
  } catch {
    return { ...UNWRITTEN }
  }
}

/** The marker of a batch, or null when it has none. */
export async function readMarker(layout: Layout, id: string): Promise<Marker | null> {
  try {
    // Synchronous on purpose: a small local file (store/atomic.ts says why).
    return parseMarker(readFileSync(markerFile(layout, id), 'utf8'))
  } catch (err) {
    if (isNotFound(err)) return null
    throw err
  }
}

/** The marker's mtime (the heartbeat of a claim), or null when it has none. */
export async function markerMtimeMs(layout: Layout, id: string): Promise<number | null> {
  try {
    return (await stat(markerFile(layout, id))).mtimeMs
  } catch (err) {
    if (isNotFound(err)) return null
    throw err
  }
}

/** Is `current` (read from disk) still the claim `held`? The one definition of "still our claim". */
export const sameClaim = (current: Marker | null, held: Marker): boolean =>
  current !== null && current.state === 'claimed' && current.claim === held.claim

/** Exclusive create. False when a marker exists already (someone else owns the batch). */
async function createMarker(layout: Layout, id: string, marker: Marker, durable: boolean): Promise<boolean> {
  if (!durable) return createMarkerSync(layout, id, marker)
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(markerFile(layout, id), 'wx')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
  try {
    await handle.writeFile(`${JSON.stringify(marker)}\n`)
    if (durable) await handle.sync()
    await handle.close()
  } catch (err) {
    // Not recorded whole (ENOSPC, say): take no claim we cannot record.
    await handle.close().catch(() => {})
    unlinkQuiet(markerFile(layout, id))
    throw err
  }
  return true
}

/**
 * createMarker without a sync: the hot path of every claim, synchronous (store/atomic.ts says why).
 * On a spare inode (a done batch's file, spares.ts) when this process keeps one; created otherwise.
 */
function createMarkerSync(layout: Layout, id: string, marker: Marker): boolean {
  const file = markerFile(layout, id)
  const onSpare = linkSpareSync(layout, file, `${JSON.stringify(marker)}\n`)
  if (onSpare !== null) return onSpare
  let fd: number
  try {
    fd = openSync(file, 'wx')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
  try {
    writeAllSync(fd, `${JSON.stringify(marker)}\n`)
  } catch (err) {
    // Not recorded whole (ENOSPC, say): take no claim we cannot record.
    closeSync(fd)
    unlinkQuiet(file)
    throw err
  }
  closeSync(fd)
  return true
}

/** A claim this process holds on a batch. */
export class Claim {
  constructor(
    private readonly layout: Layout,
    readonly id: string,
    readonly marker: Marker,
  ) {}

  /** Is the marker on disk still this claim? (The janitor may have put the batch back.) */
  async stillOurs(): Promise<boolean> {
    return sameClaim(await readMarker(this.layout, this.id), this.marker)
  }

  private async assertOurs(action: string): Promise<void> {
    if (!(await this.stillOurs())) throw new ClaimLostError(this.id, action)
  }

  /** Refresh the heartbeat (mtime). Throws ClaimLostError when the claim is no longer ours. */
  async heartbeat(): Promise<void> {
    await this.assertOurs('heartbeat')
    const now = new Date()
    await utimes(markerFile(this.layout, this.id), now, now)
  }

  /** claimed -> claimed alone: no other batch is in flight in this process from now until it ends. */
  async markAlone(): Promise<void> {
    await this.assertOurs('marking it alone')
    Object.assign(this.marker, { alone: true })
    await writeFileAtomic(markerFile(this.layout, this.id), `${JSON.stringify(this.marker)}\n`, {
      durable: false,
    })
  }

  /** claimed -> done, with the counts; atomic rewrite. Throws ClaimLostError when not ours. */
  async finish(counts: DoneCounts): Promise<Marker> {
    await this.assertOurs('marking it done')
    const done: Marker = { ...this.marker, state: 'done', finishedAt: new Date().toISOString(), ...counts }
    // In place (atomic.ts, overwriteSync): one write over the claim's bytes (the done JSON is
    // longer), then a truncate. A temp file and a rename cost two more directory operations per
    // batch; creating the temp file took 0.02 to 0.6 ms here (ext4 without a journal skips every
    // inode freed in the last minutes: bench/RESULTS.md). A reader that catches the write
    // half-way, or a marker left half-written by a crash, reads it as this claim, as a claim not
    // yet written (both put back once stale: an idempotent redo, as for a done marker lost in a
    // power cut), or as done without its counts: true all the same, since the sink has the
    // batch's rows before this. Not synced: the sink is the record.
    overwriteSync(markerFile(this.layout, this.id), `${JSON.stringify(done)}\n`)
    return done
  }

  /** claimed -> (none), if the claim is still ours. False when it was not (nothing to give back). */
  async release(): Promise<boolean> {
    if (!(await this.stillOurs())) return false
    return unlinkIfThere(markerFile(this.layout, this.id))
  }

  /** release(), synchronously: for a forced exit, where no promise will be awaited. */
  releaseSync(): boolean {
    const file = markerFile(this.layout, this.id)
    try {
      if (!sameClaim(parseMarker(readFileSync(file, 'utf8')), this.marker)) return false
      unlinkSync(file)
      return true
    } catch {
      // Gone, or unreadable while the process is going down: nothing more can be done here.
      return false
    }
  }
}

/** (none) -> claimed. Null when someone else holds the batch. */
export async function tryClaim(layout: Layout, id: string, worker: string): Promise<Claim | null> {
  const marker: Marker = {
    state: 'claimed',
    host: hostname(),
    pid: process.pid,
    worker,
    claim: uniqueTag(),
    claimedAt: new Date().toISOString(),
  }
  return (await createMarker(layout, id, marker, false)) ? new Claim(layout, id, marker) : null
}

/**
 * claimed (stale, as `seen`) -> (none): the janitor puts a batch back. False when
 * the marker changed meanwhile (the claim was released, finished or renewed).
 */
export async function putBack(layout: Layout, id: string, seen: Marker): Promise<boolean> {
  if (!sameClaim(await readMarker(layout, id), seen)) return false
  return unlinkIfThere(markerFile(layout, id))
}

/** Any marker -> (none), for a batch file that has just been set aside in bad/ (it is no longer claimable). */
export async function dropForSetAside(layout: Layout, id: string): Promise<void> {
  unlinkIfThere(markerFile(layout, id))
}

/** done -> (none), once the marker is safely in the ledger. False when it is not a done marker. */
export async function retireDone(layout: Layout, id: string): Promise<boolean> {
  const m = await readMarker(layout, id)
  if (m?.state !== 'done') return false
  return unlinkIfThere(markerFile(layout, id))
}

/** (none) -> handed-off, durably: no worker here takes the batch from now on. False when it has a marker. */
export async function reserveForHandoff(layout: Layout, id: string, to: string): Promise<boolean> {
  const marker: Marker = {
    state: 'handed-off',
    host: hostname(),
    pid: process.pid,
    worker: 'handoff',
    claim: '',
    claimedAt: new Date().toISOString(),
    to,
  }
  return createMarker(layout, id, marker, true)
}

/** handed-off -> handed-off with `handedOffAt`: the copy there was verified and the file here removed. */
export async function markHandedOff(layout: Layout, id: string): Promise<void> {
  const m = await readMarker(layout, id)
  if (m?.state !== 'handed-off')
    throw new Error(`batch ${id}: not reserved for handoff (marker: ${m?.state})`)
  await writeFileAtomic(
    markerFile(layout, id),
    `${JSON.stringify({ ...m, handedOffAt: new Date().toISOString() })}\n`,
  )
}

/** handed-off, not yet copied and verified -> (none): the batch is claimable here again. */
export async function releaseHandoff(layout: Layout, id: string): Promise<boolean> {
  const m = await readMarker(layout, id)
  if (m?.state !== 'handed-off' || m.handedOffAt) return false
  return unlinkIfThere(markerFile(layout, id))
}
