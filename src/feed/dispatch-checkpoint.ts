import { readFile } from 'node:fs/promises'
import { ConfigError, isNotFound } from '../core/errors.js'
import { writeFileAtomic } from '../store/atomic.js'

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

export async function loadCheckpoint(file: string): Promise<DispatchCheckpoint | null> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if (isNotFound(err)) return null
    throw err
  }
  try {
    return JSON.parse(text) as DispatchCheckpoint
  } catch {
    // Starting again from id 0 would resend everything: say so and let the user decide.
    throw new ConfigError(
      `${file}: damaged dispatch checkpoint; fix or remove it (removing restarts dispatch from the first id)`,
    )
  }
}

export async function saveCheckpoint(file: string, cp: DispatchCheckpoint): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(cp)}\n`)
}
