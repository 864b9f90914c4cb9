/**
 * `npm run bench -- <scenario> [--quick]`. Each scenario runs its contenders
 * side by side in one invocation and prints a markdown table of ratios; paste
 * it with the command into bench/RESULTS.md.
 *   pool      enqueue + `start --once` with each recognizer (builtin, dictionary, none)
 *   sink      100k results into MariaDB: the pool vs row-by-row autocommit vs LOAD DATA
 *   prefetch  broker -> left/: the prefetcher vs a bare kafkajs consume (and --base REV's prefetcher)
 *   dispatch  ms per page at the start and end of a 1M-row source_data
 *   gpu       the mock GPU service at capacity: cap = C, cap = 4C (adaptive), the original client
 *   status    `status` over 1k, 10k, 100k done batches: cold (no index) vs warm
 *   versus-gpu  Kafka -> mock GPU -> MariaDB: leftright (cap C, 4C) vs BullMQ vs the original scripts
 *   versus-gpu-file  20k documents from a file -> mock GPU -> MariaDB: leftright (sequential, side by side; [--base REV] that revision too) vs BullMQ
 *   scaling   10k/100k/1M documents: time per document and peak RSS; claim latency with 1k/100k pending
 *   two-boxes two processes in one Kafka group, a GPU service each, vs one
 *   compare   versus-gpu, versus-sink, scaling, two-boxes and status in one run (CI: `compare --quick`)
 *   faults    kill -9 x20 mid-run, disk full for a minute, entity service down 60 s: what was lost
 *   ab        this tree vs a baseline revision (--base REV): pool and sink jobs alternated
 *   start-sink  start --once alone, sink-bound into MariaDB, 200k docs: this tree vs --base REV (--dir DIR: data dirs there; --docs N, --rounds N)
 *   first-claim  start on pending batches: seconds to the first claim, this tree vs --base REV
 *   enqueue   `enqueue` of 200k documents (--docs N) into a fresh data dir: this tree vs --base REV
 *   cap       LR_GPU_CONCURRENCY = 4x capacity, 2,000 docs (--docs N): refused calls, baseline (--base REV) vs this tree, fresh and remembered
 *   sources   Redis Streams and RabbitMQ -> left/ vs a bare client; the ClickHouse sink vs the MySQL sink
 *   versus-sink 200k documents (--docs N, --rounds N), no recognition, into MariaDB: leftright vs BullMQ vs the original vs LOAD DATA (--dir DIR: input and data dirs there)
 */
import { abScenario } from './ab.js'
import { capScenario } from './cap.js'
import { dispatchScenario } from './dispatch.js'
import { enqueueScenario } from './enqueue.js'
import { faultsScenario } from './faults.js'
import { firstClaimScenario } from './first-claim.js'
import { gpuScenario } from './gpu.js'
import { poolScenario } from './pool.js'
import { prefetchScenario } from './prefetch.js'
import { scalingScenario, twoBoxesScenario } from './scaling.js'
import { sinkScenario } from './sink.js'
import { sourcesScenario } from './sources.js'
import { startSinkScenario } from './start-sink.js'
import { statusScenario } from './status.js'
import { versusGpuFileScenario, versusGpuScenario, versusSinkScenario } from './versus.js'

const scenarios: Record<string, () => Promise<void>> = {
  ab: abScenario,
  cap: capScenario,
  'first-claim': firstClaimScenario,
  enqueue: enqueueScenario,
  'start-sink': startSinkScenario,
  faults: faultsScenario,
  pool: poolScenario,
  sink: sinkScenario,
  prefetch: prefetchScenario,
  dispatch: dispatchScenario,
  gpu: gpuScenario,
  status: statusScenario,
  'versus-gpu': versusGpuScenario,
  'versus-gpu-file': versusGpuFileScenario,
  'versus-sink': versusSinkScenario,
  scaling: scalingScenario,
  sources: sourcesScenario,
  'two-boxes': twoBoxesScenario,
}

/** The comparisons and scaling of the "benchmarks against alternatives" issue, one after another. */
const compare = ['versus-gpu', 'versus-sink', 'scaling', 'two-boxes', 'status']
scenarios.compare = async () => {
  for (const n of compare) {
    console.log(`\n## ${n}\n`)
    await (scenarios[n] as () => Promise<void>)()
  }
}

const name = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'pool'
const run = scenarios[name]
if (!run) {
  console.error(`unknown scenario "${name}" (known: ${Object.keys(scenarios).join(', ')})`)
  process.exit(2)
}
await run()
