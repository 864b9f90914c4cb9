import { loadSettings } from '../core/config.js'
import { UsageError } from '../core/errors.js'
import { inspectBatch, releaseHandoffs, retryBad, retryDead } from '../ops/recover.js'
import { ensureLayout, layoutOf } from '../store/layout.js'
import type { ParsedArgs } from './args.js'

const say = (line: string) => process.stdout.write(`${line}\n`)

/** `retry dead [--stage S] [--doc ID ...]` and `retry bad [ID ...]`. */
export async function runRetry(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  const layout = layoutOf(settings.dataDir)
  await ensureLayout(layout)
  const [what, ...ids] = args.positionals
  if (what === 'dead') {
    const stage = typeof args.flags.stage === 'string' ? args.flags.stage : undefined
    const docs = args.lists.doc ?? []
    const r = await retryDead(layout, {
      ...(stage ? { stage } : {}),
      docs,
      batchSize: settings.batchSize,
      maxTextBytes: settings.maxTextBytes,
    })
    say(
      `put ${r.docs} documents back to work in ${r.batches} batches (entries moved to dead/retried/)` +
        (r.unusable
          ? `; ${r.unusable} entries hold no document that can be processed and stay in dead/`
          : ''),
    )
    return 0
  }
  if (what === 'bad') {
    const r = await retryBad(layout, ids)
    say(
      `put ${r.moved} batches from bad/ back into left/` +
        (r.missing.length ? `; not in bad/: ${r.missing.join(', ')}` : ''),
    )
    return r.missing.length ? 1 : 0
  }
  throw new UsageError(
    'retry needs `dead` or `bad` (leftright retry dead [--stage S] [--doc ID ...] | retry bad [ID ...])',
  )
}

/** `inspect ID`: a batch's marker, size, documents, milestone and history, as JSON. */
export async function runInspect(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  const [id] = args.positionals
  if (!id) throw new UsageError('inspect needs a batch id')
  try {
    say(JSON.stringify(await inspectBatch(layoutOf(settings.dataDir), id), null, 2))
    return 0
  } catch (err) {
    process.stderr.write(`leftright: ${(err as Error).message}\n`)
    return 1
  }
}

/** `handoff --release [ID ...]`. */
export async function runHandoffRelease(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  const r = await releaseHandoffs(layoutOf(settings.dataDir), args.positionals)
  say(
    `gave back ${r.released} handoff reservations` +
      (r.skipped ? `; ${r.skipped} were not reservations still here` : ''),
  )
  return 0
}
