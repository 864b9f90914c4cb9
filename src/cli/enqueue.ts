import { loadSettings } from '../config.js'
import { ErrorCodes, LrError } from '../errors.js'
import { enqueueFiles } from '../ingest/enqueue.js'
import { createLogger } from '../log.js'
import { layoutOf } from '../spool/layout.js'
import type { ParsedArgs } from './args.js'

export async function runEnqueue(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  if (args.positionals.length === 0)
    throw new LrError(ErrorCodes.usage, 'enqueue needs one or more FILE.jsonl')
  const log = createLogger().child({ component: 'enqueue' })
  const startedAt = performance.now()
  const r = await enqueueFiles(args.positionals, {
    layout: layoutOf(settings.dataDir),
    batchSize: settings.batchSize,
    maxTextBytes: settings.maxTextBytes,
    log,
  })
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
