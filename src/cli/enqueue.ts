import { SingleBar } from 'cli-progress'
import { loadSettings } from '../core/config.js'
import { UsageError } from '../core/errors.js'
import { createLogger } from '../core/log.js'
import { enqueueFiles } from '../feed/enqueue.js'
import { layoutOf } from '../store/layout.js'
import type { ParsedArgs } from './args.js'

export async function runEnqueue(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  if (args.positionals.length === 0) throw new UsageError('enqueue needs one or more FILE.jsonl')
  const log = createLogger(settings).child({ component: 'enqueue' })
  const startedAt = performance.now()
  // A progress bar on a terminal; logs only otherwise.
  const bar = process.stdout.isTTY
    ? new SingleBar({ format: 'enqueue [{bar}] {percentage}% | {docs} documents | ETA {eta_formatted}' })
    : null
  let r: Awaited<ReturnType<typeof enqueueFiles>>
  try {
    r = await enqueueFiles(args.positionals, {
      layout: layoutOf(settings.dataDir),
      batchSize: settings.batchSize,
      maxTextBytes: settings.maxTextBytes,
      minFreeDisk: settings.minFreeDisk,
      log,
      onProgress: (p) => {
        if (!bar) return
        if (bar.getTotal() !== p.totalBytes) bar.start(p.totalBytes, 0, { docs: 0 })
        bar.update(p.bytesRead, { docs: p.docs })
      },
    })
  } finally {
    bar?.stop()
  }
  const seconds = (performance.now() - startedAt) / 1000
  log.info(
    {
      ...r,
      seconds: Number(seconds.toFixed(3)),
      docsPerSecond: Math.round(r.docs / Math.max(seconds, 1e-6)),
    },
    `enqueued ${r.docs} documents in ${r.batches} batches (${r.dead} lines set aside in dead/)`,
  )
  return 0
}
