import { randomBytes } from 'node:crypto'
import { open, readFile, unlink, utimes } from 'node:fs/promises'
import { hostname } from 'node:os'
import { ErrorCodes, LrError } from '../errors.js'
import { writeFileAtomic } from '../spool/atomic.js'
import { type Layout, markerFile } from '../spool/layout.js'

/**
 * right/<id>: the marker. Created with exclusive create (`wx`), so exactly one
 * creator owns the batch. Small JSON a person can `cat`. While claimed, its
 * mtime is the heartbeat. `claim` is a random token telling this claim apart
 * from a later one on the same batch (after a put-back).
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
  /** handed-off: where the batch was sent, and when the copy was verified and removed here. */
  to?: string
  handedOffAt?: string
}

export interface DoneCounts {
  docs: number
  ok: number
  failed: number
}

export async function readMarker(layout: Layout, id: string): Promise<Marker | null> {
  try {
    const text = await readFile(markerFile(layout, id), 'utf8')
    // A marker is created and then written: for an instant it can be empty. It is a claim all the same.
    if (text.trim() === '')
      return { state: 'claimed', host: '', pid: 0, worker: '', claim: '', claimedAt: '' }
    return JSON.parse(text) as Marker
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    if (err instanceof SyntaxError)
      return { state: 'claimed', host: '', pid: 0, worker: '', claim: '', claimedAt: '' }
    throw err
  }
}

export class Claim {
  readonly id: string
  readonly marker: Marker
  private readonly layout: Layout
  private readonly file: string

  constructor(layout: Layout, id: string, marker: Marker) {
    this.layout = layout
    this.id = id
    this.marker = marker
    this.file = markerFile(layout, id)
  }

  /** Is the marker on disk still this claim? (The janitor may have put the batch back.) */
  async stillOurs(): Promise<boolean> {
    const current = await readMarker(this.layout, this.id)
    return current !== null && current.claim === this.marker.claim && current.state === 'claimed'
  }

  private async assertOurs(action: string): Promise<void> {
    if (!(await this.stillOurs())) {
      throw new LrError(ErrorCodes.claimLost, `batch ${this.id}: claim was taken back before ${action}`, {
        context: { batch: this.id },
      })
    }
  }

  /** Refresh the heartbeat (mtime). Throws LR_CLAIM_LOST when the claim is no longer ours. */
  async heartbeat(): Promise<void> {
    await this.assertOurs('heartbeat')
    const now = new Date()
    await utimes(this.file, now, now)
  }

  /** Rewrite the marker atomically as done, with the counts. */
  async finish(counts: DoneCounts): Promise<Marker> {
    await this.assertOurs('marking it done')
    const done: Marker = { ...this.marker, state: 'done', finishedAt: new Date().toISOString(), ...counts }
    await writeFileAtomic(this.file, `${JSON.stringify(done)}\n`)
    return done
  }

  /** Give the batch back: remove the marker if it is still ours. Never throws. */
  async release(): Promise<boolean> {
    try {
      if (!(await this.stillOurs())) return false
      await unlink(this.file)
      return true
    } catch {
      return false
    }
  }
}

/**
 * Try to claim a batch. Returns null when someone else holds it (EEXIST).
 */
export async function tryClaim(layout: Layout, id: string, worker: string): Promise<Claim | null> {
  const marker: Marker = {
    state: 'claimed',
    host: hostname(),
    pid: process.pid,
    worker,
    claim: randomBytes(6).toString('hex'),
    claimedAt: new Date().toISOString(),
  }
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(markerFile(layout, id), 'wx')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null
    throw err
  }
  try {
    await handle.writeFile(`${JSON.stringify(marker)}\n`)
  } finally {
    await handle.close()
  }
  return new Claim(layout, id, marker)
}
