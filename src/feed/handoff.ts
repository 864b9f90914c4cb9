import { mkdir, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { isRemote, rsync } from '../adapters/rsync.js'
import { HandoffError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { type Layout, leftFile } from '../store/layout.js'
import { markHandedOff, readMarker, releaseHandoff, reserveForHandoff } from '../store/markers.js'
import { markedIds, pendingIds, scanSpool } from '../store/scan.js'

export interface HandoffOptions {
  layout: Layout
  /** A local folder or an rsync destination `host:path/left/`. */
  to: string
  /** New batches to reserve (batches reserved by an interrupted earlier run are finished first). */
  count: number
  /** rsync --bwlimit, KiB/s (0: none). */
  bwlimitKiBps: number
  log: Logger
  signal: AbortSignal
}

export interface HandoffResult {
  /** Reserved by an earlier, interrupted run and finished now. */
  resumed: number
  reserved: number
  moved: number
}

/** Files per rsync call: keeps argument lists short and makes progress visible. */
const FILES_PER_CALL = 50

/**
 * Move unclaimed batches to another box's left/:
 * 1. reserve each with an exclusive-create marker `handed-off` (no worker here takes it);
 * 2. copy with rsync (it writes `.name.XXXXXX` and renames, which the receiver ignores until whole);
 * 3. verify with a checksum dry run (size and content), then delete the batch here;
 *    the marker stays as the record of where the batch went.
 * Killed at any point, every batch is here (reserved, not claimable) or there, or both with
 * only the copy there claimable; a rerun finishes what an interrupted run reserved.
 */
export async function handoff(opts: HandoffOptions): Promise<HandoffResult> {
  const { layout, log } = opts
  const host = hostname()
  const scan = await scanSpool(layout)
  const earlier = new Map<string, string[]>()
  const free = pendingIds(scan)
  for (const id of markedIds(scan)) {
    const m = await readMarker(layout, id)
    if (m?.state === 'handed-off' && m.host === host && !m.handedOffAt && m.to) {
      earlier.set(m.to, [...(earlier.get(m.to) ?? []), id])
    }
  }
  const resumed = [...earlier.values()].reduce((n, ids) => n + ids.length, 0)
  if (resumed > 0) log.info({ batches: resumed }, 'finishing batches reserved by an interrupted handoff')

  const reserved: string[] = []
  for (const id of free) {
    if (reserved.length >= opts.count || opts.signal.aborted) break
    if (await reserveForHandoff(layout, id, opts.to)) reserved.push(id)
  }
  if (reserved.length > 0) earlier.set(opts.to, [...(earlier.get(opts.to) ?? []), ...reserved])
  log.info({ reserved: reserved.length, asked: opts.count, to: opts.to }, 'batches reserved for handoff')

  let moved = 0
  for (const [to, ids] of earlier) {
    if (!isRemote(to)) await mkdir(to, { recursive: true })
    const dest = to.endsWith('/') ? to : `${to}/`
    for (let i = 0; i < ids.length; i += FILES_PER_CALL) {
      const part = ids.slice(i, i + FILES_PER_CALL)
      try {
        moved += await movePart(opts, part, dest)
      } catch (err) {
        // A failed copy gives back what it reserved: those batches are claimable here again.
        let released = 0
        for (const id of ids.slice(i)) if (await releaseHandoff(layout, id)) released++
        log.warn(
          { err, to, released },
          `handoff to ${to} failed; ${released} reserved batches given back here`,
        )
        throw new HandoffError(
          `copy to ${to} failed (${(err as Error).message}); ${released} reserved batches given back`,
          {
            cause: err,
          },
        )
      }
      log.info({ moved, of: reserved.length + resumed, to }, 'handoff progress')
    }
  }
  return { resumed, reserved: reserved.length, moved }
}

async function movePart(opts: HandoffOptions, ids: string[], dest: string): Promise<number> {
  const { layout } = opts
  const files = ids.map((id) => leftFile(layout, id))
  const common = ['--archive', ...(opts.bwlimitKiBps > 0 ? [`--bwlimit=${opts.bwlimitKiBps}`] : [])]
  await rsync([...common, ...files, dest], opts.signal)
  // Verify: a checksum dry run lists every file whose size or content differs there. With
  // --existing it skips files no longer there: the receiving box may already have done and
  // deleted them (the copy itself succeeded: rsync exited 0 after its whole-file checksum).
  const differ = (
    await rsync(
      ['--archive', '--checksum', '--existing', '--dry-run', '--out-format=%n', ...files, dest],
      opts.signal,
    )
  )
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  const bad = new Set(differ.map((n) => path.basename(n)))
  let moved = 0
  for (const id of ids) {
    if (bad.has(path.basename(leftFile(layout, id)))) {
      opts.log.warn(
        { batch: id, to: dest },
        'copy does not match after rsync; kept here, reserved (rerun handoff)',
      )
      continue
    }
    await unlink(leftFile(layout, id))
    await markHandedOff(layout, id)
    moved++
  }
  return moved
}
