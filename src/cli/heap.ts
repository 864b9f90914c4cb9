import { setFlagsFromString } from 'node:v8'

/** Old space may grow to this much over what survived its last full collection (V8's own factor is 1.1 to 4). */
const GROWING_PERCENT = 20

/**
 * Keep the process's heap near what it holds. In the GPU-bound pipeline a batch's objects wait
 * for recognition long enough to be promoted, then die; V8's default lets old space grow to a
 * few times what survived before it collects, and that garbage was most of the peak RSS (the
 * main heap at 47 MB used of 67 MB committed, 13 MB live). With this the peak of a 20k-document
 * GPU-bound run went from 148 to 140 MB at the same speed, and the sink-bound `start --once` took
 * 2% longer (bench/RESULTS.md, seventh session). V8 reads the factor each time it sets the next
 * limit, so setting it at start-up works; it applies to the worker threads as well.
 */
export function limitHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${GROWING_PERCENT}`)
}
