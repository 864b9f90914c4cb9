import { readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import type { Logger } from '../core/log.js'
import type { Dependency, OutageState, Outages } from '../core/outages.js'
import { ownerIsGone } from '../core/pid.js'
import type { GpuCap } from '../recognize/gpu-cap.js'
import { writeFileAtomic } from '../store/atomic.js'
import { type Layout, stateFiles } from '../store/layout.js'

const EVERY_MS = 1000

export interface GpuState {
  limit: number
  max: number
  inFlight: number
  circuit: string
  overloads: number
  host: string
  pid: number
  at: string
  /** Dependencies that are down right now, as this pool sees them. */
  dependencies: Partial<Record<Dependency, OutageState>>
}

/**
 * state/gpu.json: the cap's limit and calls in flight, written every second so
 * `status` (another process) can show them. Returns the stop function.
 */
export function writeGpuStateEverySecond(
  layout: Layout,
  cap: GpuCap,
  outages: Outages,
  log: Logger,
): () => void {
  let failing = false
  const timer = setInterval(() => {
    const state = {
      host: hostname(),
      pid: process.pid,
      at: new Date().toISOString(),
      ...cap.snapshot(),
      dependencies: outages.snapshot(),
    }
    writeFileAtomic(stateFiles(layout).gpu, `${JSON.stringify(state)}\n`, { durable: false }).then(
      () => {
        failing = false
      },
      (err: unknown) => {
        // Only status reads it: say so once, not every second.
        if (!failing) log.warn({ err }, 'cannot write state/gpu.json; status will not show the GPU cap')
        failing = true
      },
    )
  }, EVERY_MS)
  timer.unref()
  return () => clearInterval(timer)
}

/** The GPU cap of a pool running on this host (or another), or null when none is. */
export async function readGpuState(layout: Layout): Promise<GpuState | null> {
  try {
    const st = JSON.parse(await readFile(stateFiles(layout).gpu, 'utf8')) as GpuState
    if (ownerIsGone(st)) return null
    const { limit, max, inFlight, circuit, overloads, host, pid, at } = st
    return { limit, max, inFlight, circuit, overloads, host, pid, at, dependencies: st.dependencies ?? {} }
  } catch {
    // Missing (no pool ran yet) or half-read: nothing to show.
    return null
  }
}
