import { parseArgs } from 'node:util'
import { settingFlags } from '../core/config.js'
import { UsageError } from '../core/errors.js'

export interface ParsedArgs {
  command: string
  flags: Record<string, string | boolean | undefined>
  /** Flags that may be given several times (`--doc A --doc B`). */
  lists: Record<string, string[]>
  positionals: string[]
}

const commandFlags = {
  once: { type: 'boolean' },
  'to-left': { type: 'boolean' },
  json: { type: 'boolean' },
  apply: { type: 'boolean' },
  release: { type: 'boolean' },
  stage: { type: 'string' },
  doc: { type: 'string', multiple: true },
  watch: { type: 'boolean' },
  to: { type: 'string' },
  count: { type: 'string' },
  bwlimit: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

export function parseCli(argv: string[]): ParsedArgs {
  const [command = 'help', ...rest] = argv
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { ...settingFlags, ...commandFlags },
      allowPositionals: true,
      strict: true,
    })
    const { doc, ...single } = values as Record<string, string | boolean | string[] | undefined>
    return {
      command,
      flags: single as ParsedArgs['flags'],
      lists: { doc: Array.isArray(doc) ? doc : [] },
      positionals,
    }
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0] ?? 'bad arguments')
  }
}

export const usage = `usage: leftright <command> [flags]

commands:
  start [--once]        workers + (sample on first run) in one process; --once exits when drained
  work [--once]         the worker loops alone
  enqueue FILE.jsonl... split JSONL documents into batch files in left/
  prefetch [--once]     Kafka -> left/ alone (needs LR_KAFKA_BROKERS)
  dispatch [--to-left]  MySQL source rows without a result -> Kafka (or left/), resumable
  janitor [--once]      put back stale claims (also runs inside start and work)
  handoff --to DEST --count N [--bwlimit KiB/s]
                        move N unclaimed batches to another box's left/ (a folder or host:path/left/) with rsync
  doctor                check settings, folders, disk, Kafka, MySQL and the entity service
  migrate [--apply]     show (then apply) the SQL that makes existing MySQL tables fit
  retry dead [--stage S] [--doc ID ...] | retry bad [ID ...]
                        put set-aside documents or batches back to work
  inspect ID            a batch's marker, size, documents, milestone and history
  handoff --release [ID ...]
                        give back handoff reservations of batches still here
  status [--json] [--watch]
                        counts of batches and documents by state

settings (flags override env, env overrides leftright.config.json):
  --data-dir (LR_DATA_DIR, ./data)   --workers (LR_WORKERS, 4)   --gpu-concurrency (LR_GPU_CONCURRENCY, 2)
  --batch-size (LR_BATCH_SIZE, 100)  --recognizer (LR_RECOGNIZER, builtin|dictionary|none)
  --stale-ms (LR_STALE_MS, 60000)    --shutdown-grace-ms (LR_SHUTDOWN_GRACE_MS, 15000)
  --rescan-ms (LR_RESCAN_MS, 5000)   --sample (LR_SAMPLE, auto|off|DIR)   --entities (LR_ENTITIES)
  see README.md for the full table`
