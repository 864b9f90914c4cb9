import { loadSettings } from '../core/config.js'
import { createLogger } from '../core/log.js'
import { Releasers } from '../core/releasers.js'
import { installSignals } from '../core/signals.js'
import { Janitor, janitorOptions } from '../ops/janitor.js'
import { ensureLayout, layoutOf } from '../store/layout.js'
import type { ParsedArgs } from './args.js'

/** The janitor alone: puts back stale claims until stopped (or one sweep with --once). */
export async function runJanitor(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  const log = createLogger(settings)
  const layout = layoutOf(settings.dataDir)
  await ensureLayout(layout)
  const janitor = new Janitor(janitorOptions(settings, layout, log))
  const signals = installSignals({ log, onStop: () => janitor.stop(), onForce: () => 0 })
  const releasers = new Releasers()
  releasers.push('signals', () => signals.dispose())
  try {
    await janitor.start()
    releasers.push('janitor', () => janitor.stop())
    if (!args.flags.once) await signals.stopped
  } finally {
    await releasers.release()
  }
  return 0
}
