import { mkdir, open, readdir, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { type Marker, readMarker } from '../claim/marker.js'
import type { Logger } from '../log.js'
import { writeFileAtomic } from '../spool/atomic.js'
import { classifyLeftName, type Layout, leftFile, markerFile } from '../spool/layout.js'
import { isRemote, rsync } from './rsync.js'

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
  const [leftNames, rightNames] = await Promise.all([readdir(layout.left), readdir(layout.right)])
  const markers = new Set(rightNames)
  const earlier = new Map<string, string[]>()
  const free: string[] = []
  for (const name of leftNames) {
    const c = classifyLeftName(name)
    if (c.kind !== 'batch') continue
    if (!markers.has(c.id)) {
      free.push(c.id)
      continue
    }
    const m = await readMarker(layout, c.id)
    if (m?.state === 'handed-off' && m.host === host && !m.handedOffAt && m.to) {
      earlier.set(m.to, [...(earlier.get(m.to) ?? []), c.id])
    }
  }
  const resumed = [...earlier.values()].reduce((n, ids) => n + ids.length, 0)
  if (resumed > 0) log.info({ batches: resumed }, 'finishing batches reserved by an interrupted handoff')

  const reserved: string[] = []
  for (const id of free) {
    if (reserved.length >= opts.count || opts.signal.aborted) break
    if (await reserve(layout, id, opts.to, host)) reserved.push(id)
  }
  if (reserved.length > 0) earlier.set(opts.to, [...(earlier.get(opts.to) ?? []), ...reserved])
  log.info({ reserved: reserved.length, asked: opts.count, to: opts.to }, 'batches reserved for handoff')

  let moved = 0
  for (const [to, ids] of earlier) {
    if (!isRemote(to)) await mkdir(to, { recursive: true })
    const dest = to.endsWith('/') ? to : `${to}/`
    for (let i = 0; i < ids.length; i += FILES_PER_CALL) {
      const part = ids.slice(i, i + FILES_PER_CALL)
      moved += await movePart(opts, part, dest)
      log.info({ moved, of: reserved.length + resumed, to }, 'handoff progress')
    }
  }
  return { resumed, reserved: reserved.length, moved }
}

async function reserve(layout: Layout, id: string, to: string, host: string): Promise<boolean> {
  const marker: Marker = {
    state: 'handed-off',
    host,
    pid: process.pid,
    worker: 'handoff',
    claim: '',
    claimedAt: new Date().toISOString(),
    to,
  }
  try {
    const handle = await open(markerFile(layout, id), 'wx')
    try {
      await handle.writeFile(`${JSON.stringify(marker)}\n`)
      await handle.sync()
    } finally {
      await handle.close()
    }
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
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
    const m = await readMarker(layout, id)
    await writeFileAtomic(
      markerFile(layout, id),
      `${JSON.stringify({ ...m, handedOffAt: new Date().toISOString() })}\n`,
    )
    moved++
  }
  return moved
}
