import { loadSettings } from '../config.js'
import { sleep } from '../lifecycle/sleep.js'
import { layoutOf } from '../spool/layout.js'
import { collectStatus, formatStatus } from '../status/collect.js'
import type { ParsedArgs } from './args.js'

export async function runStatus(args: ParsedArgs): Promise<number> {
  const settings = loadSettings(args.flags)
  const layout = layoutOf(settings.dataDir)
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
