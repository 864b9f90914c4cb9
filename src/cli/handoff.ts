import { loadSettings } from '../core/config.js'
import { UsageError } from '../core/errors.js'
import { createLogger } from '../core/log.js'
import { installSignals } from '../core/signals.js'
import { handoff } from '../feed/handoff.js'
import { ensureLayout, layoutOf } from '../store/layout.js'
import type { ParsedArgs } from './args.js'

function intFlag(value: string | boolean | undefined, name: string, fallback: number | null): number {
  if (value === undefined && fallback !== null) return fallback
  if (typeof value !== 'string' || !/^\d+$/.test(value)) {
    throw new UsageError(`--${name}: expected a whole number (got ${JSON.stringify(value ?? '')})`)
  }
  return Number(value)
}

/** leftright handoff --to DEST --count N: move unclaimed batches to another box. */
export async function runHandoff(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  const to = args.flags.to
  if (typeof to !== 'string' || to.trim() === '') {
    throw new UsageError('handoff needs --to DEST (a folder, or host:path/left/ for rsync)')
  }
  // Files anywhere else land where no worker looks.
  if (!/(^|[/:])left\/*$/.test(to.trim())) {
    throw new UsageError(
      `handoff --to ${to}: the destination must be another data dir's left/ folder (…/left/ or host:…/left/)`,
    )
  }
  const count = intFlag(args.flags.count, 'count', null)
  const bwlimitKiBps = intFlag(args.flags.bwlimit, 'bwlimit', 0)
  const log = createLogger(settings).child({ component: 'handoff' })
  const layout = layoutOf(settings.dataDir)
  await ensureLayout(layout)
  const controller = new AbortController()
  const signals = installSignals({ log, onStop: async () => controller.abort(), onForce: () => 0 })
  try {
    const result = await handoff({ layout, to, count, bwlimitKiBps, log, signal: controller.signal })
    log.info(result, 'handoff finished')
    return result.moved === result.reserved + result.resumed ? 0 : 1
  } catch (err) {
    if (controller.signal.aborted) {
      log.warn('handoff stopped; reserved batches stay here until handoff runs again')
      return 1
    }
    throw err
  } finally {
    signals.dispose()
  }
}
