import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { writeFileAtomic } from '../spool/atomic.js'
import type { Layout } from '../spool/layout.js'

/**
 * state/dispatch-<source>-<target>.json: the last source id whose page was
 * acknowledged by the target. A rerun continues after it.
 */
export interface DispatchCheckpoint {
  source: string
  target: string
  lastId: number
  sent: number
  updatedAt: string
}

export function checkpointFile(layout: Layout, source: string, target: string): string {
  const safe = target.replace(/[^\w.-]+/g, '_')
  return path.join(layout.state, `dispatch-${source}-${safe}.json`)
}

export async function loadCheckpoint(file: string): Promise<DispatchCheckpoint | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as DispatchCheckpoint
  } catch {
    return null
  }
}

export async function saveCheckpoint(file: string, cp: DispatchCheckpoint): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(cp)}\n`)
}
