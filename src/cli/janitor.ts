import { loadSettings } from '../config.js'
import { Janitor, janitorOptions } from '../janitor/janitor.js'
import { installSignals } from '../lifecycle/signals.js'
import { createLogger } from '../log.js'
import { ensureLayout, layoutOf } from '../spool/layout.js'
import type { ParsedArgs } from './args.js'

/** The janitor alone: puts back stale claims until stopped (or one sweep with --once). */
export async function runJanitor(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  const log = createLogger()
  const layout = layoutOf(settings.dataDir)
  await ensureLayout(layout)
  const janitor = new Janitor(janitorOptions(settings, layout, log))
  const signals = installSignals({ log, onStop: () => janitor.stop(), onForce: () => 0 })
  await janitor.start()
  if (!args.flags.once) {
    // The janitor's own timer does not hold the process open (inside `start` the workers do).
    const keepAlive = setInterval(() => {}, 60_000)
    await signals.stopped
    clearInterval(keepAlive)
  }
  await janitor.stop()
  signals.dispose()
  return 0
}
