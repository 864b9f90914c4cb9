import { loadSettings } from '../core/config.js'
import { ConfigError } from '../core/errors.js'
import { sleep } from '../core/sleep.js'
import { collectStatus } from '../ops/status.js'
import { formatStatus } from '../ops/status-format.js'
import { isDataDir, layoutOf } from '../store/layout.js'
import type { ParsedArgs } from './args.js'

export async function runStatus(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  const layout = layoutOf(settings.dataDir)
  if (!isDataDir(layout)) {
    throw new ConfigError(
      `${layout.root}: not a leftright data dir (no left/ and right/): check LR_DATA_DIR or --data-dir (start and enqueue create one)`,
    )
  }
  const render = async (): Promise<string> => {
    const snap = await collectStatus(layout, { staleMs: settings.staleMs, minFreeDisk: settings.minFreeDisk })
    return args.flags.json ? JSON.stringify(snap) : formatStatus(snap)
  }
  if (!args.flags.watch) {
    process.stdout.write(`${await render()}\n`)
    return 0
  }
  const stop = new AbortController()
  process.once('SIGINT', () => stop.abort())
  while (!stop.signal.aborted) {
    const text = await render()
    process.stdout.write(process.stdout.isTTY ? `\x1b[H\x1b[2J${text}\n` : `${text}\n`)
    await sleep(2000, stop.signal)
  }
  return 0
}
