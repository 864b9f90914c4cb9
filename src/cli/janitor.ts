import { loadSettings } from '../core/config.js'
import { createLogger } from '../core/log.js'
import { Releasers } from '../core/releasers.js'
import { installSignals } from '../core/signals.js'
import { Janitor, janitorOptions } from '../ops/janitor.js'
import { createSink } from '../sink/create.js'
import { ensureLayout, layoutOf } from '../store/layout.js'
import type { ParsedArgs } from './args.js'

/** The janitor alone: puts back stale claims until stopped (or one sweep with --once). */
export async function runJanitor(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  const log = createLogger(settings)
  const layout = layoutOf(settings.dataDir)
  await ensureLayout(layout)
  const releasers = new Releasers()
  // A poison document found here is recorded where failures go, as inside `start`.
  const sink = await createSink(settings, layout, log.child({ component: 'sink' }))
  releasers.push('sink', () => sink.close())
  const janitor = new Janitor(
    janitorOptions(settings, layout, log, {
      onPoison: (failure) =>
        sink.recordFailures([failure]).catch((err: unknown) => {
          log.error({ err, doc: failure.doc_id }, 'recording a poison document failed; it is in dead/')
        }),
    }),
  )
  const signals = installSignals({ log, onStop: () => janitor.stop(), onForce: () => 0 })
  releasers.push('signals', () => signals.dispose())
  try {
    await sink.init()
    await janitor.start()
    releasers.push('janitor', () => janitor.stop())
    if (!args.flags.once) await signals.stopped
  } finally {
    await releasers.release()
  }
  return 0
}
