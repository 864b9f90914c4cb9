import type { SlotTimeline } from '../scripts/mock-gpu.js'

/** Where a service's idle slot time went in one run (shares of capacity x window). */
export interface SlotBreakdown {
  /** Slot time in calls. */
  busy: number
  /** When every slot was first in use (ms after the first call), or null if never. */
  firstFullMs: number | null
  /** Idle before every slot was first in use: the ramp. */
  rampIdle: number
  /** Idle between the ramp and the last call's start: slots waiting for the next call. */
  handoverIdle: number
  /** Idle after the last call began: the last calls' tail. */
  tailIdle: number
  /** From a call's end to the start of the call that took its slot, between ramp and tail. */
  handoverMedianMs: number | null
  handoverP90Ms: number | null
}

const at = (sorted: number[], q: number): number | null =>
  sorted.length === 0 ? null : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] as number)

/** Split a run's idle slot time into ramp, hand-overs and tail (the mock's `timeline`). */
export function slotBreakdown(tl: SlotTimeline, capacity: number): SlotBreakdown {
  const events: [number, 1 | -1][] = []
  for (const [began, ended] of tl.calls) events.push([began, 1], [ended, -1])
  // At one instant an end comes before a begin: the slot it frees is taken at once.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  const window = Math.max(0, ...tl.calls.map(([, ended]) => ended))
  const lastBegin = Math.max(0, ...tl.calls.map(([began]) => began))
  let inFlight = 0
  let last = 0
  let firstFullMs: number | null = null
  let ramp = 0
  let between = 0
  let tail = 0
  let idle = 0
  const freed: number[] = []
  const gaps: number[] = []
  for (const [t, delta] of events) {
    const gap = (capacity - inFlight) * (t - last)
    idle += gap
    if (t > lastBegin) tail += gap
    else if (firstFullMs === null) ramp += gap
    else between += gap
    last = t
    inFlight += delta
    if (delta === 1 && inFlight >= capacity && firstFullMs === null) firstFullMs = t
    if (firstFullMs === null || t > lastBegin) continue
    if (delta === -1) freed.push(t)
    else {
      const from = freed.shift()
      if (from !== undefined) gaps.push(t - from)
    }
  }
  if (firstFullMs === null) {
    // Never full: no ramp to speak of; everything before the last start counts as between.
    between = ramp
    ramp = 0
  }
  const total = capacity * window
  const share = (x: number): number => (total > 0 ? x / total : 0)
  gaps.sort((a, b) => a - b)
  return {
    busy: share(total - idle),
    firstFullMs,
    rampIdle: share(ramp),
    handoverIdle: share(between),
    tailIdle: share(tail),
    handoverMedianMs: at(gaps, 0.5),
    handoverP90Ms: at(gaps, 0.9),
  }
}
