import { statfs } from 'node:fs/promises'
import type { DiskFloor } from '../core/config.js'

export interface DiskState {
  freeBytes: number
  totalBytes: number
  /** True when free space is under the floor. */
  low: boolean
}

export async function diskState(dir: string, floor: DiskFloor): Promise<DiskState> {
  const { low, freeBytes, totalBytes } = await againstFloor(dir, floor)
  return { freeBytes, totalBytes, low }
}

async function againstFloor(dir: string, floor: DiskFloor): Promise<DiskState & { minBytes: number }> {
  const s = await statfs(dir)
  const freeBytes = s.bavail * s.bsize
  const totalBytes = s.blocks * s.bsize
  const minBytes = floor.kind === 'percent' ? (totalBytes * floor.value) / 100 : floor.value
  return { freeBytes, totalBytes, minBytes, low: freeBytes < minBytes }
}

/**
 * Free space against the floor, for a writer that pauses under it. Once it has paused
 * (`paused`), it sees room again only a margin above the floor (one point, or 10% more bytes),
 * so it does not flap on every file.
 */
export function floorState(
  dir: string,
  floor: DiskFloor,
  paused: boolean,
): Promise<DiskState & { minBytes: number }> {
  const resume: DiskFloor = !paused
    ? floor
    : floor.kind === 'percent'
      ? { kind: 'percent', value: Math.min(100, floor.value + 1) }
      : { kind: 'bytes', value: Math.round(floor.value * 1.1) }
  return againstFloor(dir, resume)
}

/** Free bytes that let a worker record a claim, a milestone and a done marker again (and not flap). */
export const ROOM_BYTES = 256 * 1024

/** Is there room to go on after the disk was full? */
export async function hasRoom(dir: string): Promise<boolean> {
  const s = await statfs(dir)
  return s.bavail * s.bsize >= ROOM_BYTES
}
