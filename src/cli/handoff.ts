import { loadSettings } from '../config.js'
import { ErrorCodes, LrError } from '../errors.js'
import { handoff } from '../handoff/handoff.js'
import { installSignals } from '../lifecycle/signals.js'
import { createLogger } from '../log.js'
import { ensureLayout, layoutOf } from '../spool/layout.js'
import type { ParsedArgs } from './args.js'

function intFlag(value: string | boolean | undefined, name: string, fallback: number | null): number {
  if (value === undefined && fallback !== null) return fallback
  if (typeof value !== 'string' || !/^\d+$/.test(value)) {
    throw new LrError(
      ErrorCodes.usage,
      `--${name}: expected a whole number (got ${JSON.stringify(value ?? '')})`,
    )
  }
  return Number(value)
}

/** leftright handoff --to DEST --count N: move unclaimed batches to another box. */
export async function runHandoff(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  const to = args.flags.to
  if (typeof to !== 'string' || to.trim() === '') {
    throw new LrError(ErrorCodes.usage, 'handoff needs --to DEST (a folder, or host:path/left/ for rsync)')
  }
  const count = intFlag(args.flags.count, 'count', null)
  const bwlimitKiBps = intFlag(args.flags.bwlimit, 'bwlimit', 0)
  const log = createLogger().child({ component: 'handoff' })
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
