/**
 * `npm run bench -- <scenario> [--quick]`. Each scenario runs its contenders
 * side by side in one invocation and prints a markdown table of ratios; paste
 * it with the command into bench/RESULTS.md.
 *   pool      enqueue + `start --once` with each recognizer (builtin, dictionary, none)
 *   sink      100k results into MariaDB: the pool vs row-by-row autocommit vs LOAD DATA
 *   prefetch  broker -> left/: the prefetcher vs a bare kafkajs consume
 *   dispatch  ms per page at the start and end of a 1M-row source_data
 *   gpu       the mock GPU service at capacity: cap = C, cap = 4C (adaptive), the original client
 *   status    `status` over 1k, 10k, 100k done batches: cold (no index) vs warm
 */
import { dispatchScenario } from './dispatch.js'
import { gpuScenario } from './gpu.js'
import { poolScenario } from './pool.js'
import { prefetchScenario } from './prefetch.js'
import { sinkScenario } from './sink.js'
import { statusScenario } from './status.js'

const scenarios: Record<string, () => Promise<void>> = {
  pool: poolScenario,
  sink: sinkScenario,
  prefetch: prefetchScenario,
  dispatch: dispatchScenario,
  gpu: gpuScenario,
  status: statusScenario,
}

const name = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'pool'
const run = scenarios[name]
if (!run) {
  console.error(`unknown scenario "${name}" (known: ${Object.keys(scenarios).join(', ')})`)
  process.exit(2)
}
await run()
