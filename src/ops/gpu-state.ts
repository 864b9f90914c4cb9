import { readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import type { Logger } from '../core/log.js'
import type { Dependency, OutageState, Outages } from '../core/outages.js'
import { ownerIsGone } from '../core/pid.js'
import type { CallCap } from '../recognize/gpu-cap.js'
import { writeFileAtomic } from '../store/atomic.js'
import { type Layout, stateFiles } from '../store/layout.js'

const EVERY_MS = 1000

export interface GpuState {
  limit: number
  /** The entity service this limit was found for. */
  service?: string | null
  /** The limit was learned (an overload was seen, the slow start reached the maximum, or it started from a learned limit). */
  learned?: boolean
  lastCallAt?: number | null
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
 * `status` (another process) can show them, and once more at stop, so that the next start
 * finds what this run learned however short it was. Returns the stop function.
 * Learned: the service refused calls (the limit sits below where it did), or the slow start
 * grew to LR_GPU_CONCURRENCY without a refusal (the service took that many). Either way the
 * next start within LR_GPU_REMEMBER_MS begins there instead of at 1.
 */
export function writeGpuStateEverySecond(
  layout: Layout,
  cap: Pick<CallCap, 'snapshot'>,
  outages: Outages,
  log: Logger,
  memory: { service: string | null; startedLearned: boolean } = { service: null, startedLearned: false },
): () => Promise<void> {
  let failing = false
  const write = async (): Promise<void> => {
    const snap = cap.snapshot()
    const state = {
      host: hostname(),
      pid: process.pid,
      at: new Date().toISOString(),
      service: memory.service,
      learned: memory.startedLearned || snap.overloads > 0 || !snap.slowStart,
      ...snap,
      dependencies: outages.snapshot(),
    }
    await writeFileAtomic(stateFiles(layout).gpu, `${JSON.stringify(state)}\n`, { durable: false }).then(
      () => {
        failing = false
      },
      (err: unknown) => {
        // Only status reads it: say so once, not every second.
        if (!failing) log.warn({ err }, 'cannot write state/gpu.json; status will not show the GPU cap')
        failing = true
      },
    )
  }
  const timer = setInterval(() => void write(), EVERY_MS)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await write()
  }
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

/**
 * The limit an earlier run here learned for this entity service (it saw the service refuse
 * calls), if that run called it within the last `forgetMs`; else null (start slow). A
 * service that may have changed since (unused for a while, another URL) is learned again.
 */
export async function rememberedLimit(
  layout: Layout,
  service: string | null,
  forgetMs: number,
  now = Date.now(),
): Promise<number | null> {
  if (!service || forgetMs <= 0) return null
  try {
    const st = JSON.parse(await readFile(stateFiles(layout).gpu, 'utf8')) as GpuState
    const fresh = typeof st.lastCallAt === 'number' && now - st.lastCallAt <= forgetMs
    return st.service === service && st.learned === true && fresh && st.limit >= 1 ? st.limit : null
  } catch {
    return null
  }
}
