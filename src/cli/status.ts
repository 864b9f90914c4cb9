import pino from 'pino'
import { loadSettings, type Settings } from '../core/config.js'
import { ConfigError, describeError } from '../core/errors.js'
import { sleep } from '../core/sleep.js'
import { createSource } from '../feed/create-source.js'
import { collectStatus, type StatusSnapshot } from '../ops/status.js'
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
    const lag = await sourceLag(settings)
    if (lag) snap.source = lag
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

/** The configured source's lag, asked once with a time limit; undefined without a source. */
async function sourceLag(settings: Settings): Promise<StatusSnapshot['source']> {
  const made = await createSource(settings, pino({ level: 'silent' }))
  if (!made) return undefined
  let timer: NodeJS.Timeout | undefined
  try {
    const lag = await Promise.race([
      made.source.lag(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer in 5 s')), 5000)
      }),
    ])
    return { name: made.source.name, total: lag.total, parts: lag.parts }
  } catch (err) {
    return { name: made.source.name, error: describeError(err) }
  } finally {
    clearTimeout(timer)
    await made.source.stop().catch(() => {})
    await made.close().catch(() => {})
  }
}
