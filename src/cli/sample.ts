import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { checkoutDataDir, type Settings, shippedSampleDir, sinkOf, sourceOf } from '../core/config.js'
import type { Logger } from '../core/log.js'
import { writeFileAtomic } from '../store/atomic.js'
import { type Layout, stateFiles } from '../store/layout.js'

/**
 * The shipped sample is a demo, so `npm start` on a fresh clone has work to show.
 * LR_SAMPLE=auto enqueues it once, and only into the checkout's own data/ folder,
 * with the file sink, no source, and nothing in left/ or right/: never into a
 * user's data dir, never into a database. LR_SAMPLE=<folder> enqueues that folder
 * once into any data dir (asked for by name). The state file makes later runs skip it.
 */
export async function seedSample(settings: Settings, layout: Layout, log: Logger): Promise<void> {
  if (settings.sample === 'off') return
  if (settings.sample === 'auto' && !(await isDemoSetup(settings, layout))) return
  const dir = settings.sample === 'auto' ? shippedSampleDir : path.resolve(settings.sample)
  const stateFile = stateFiles(layout).sample
  if (existsSync(stateFile)) {
    const prior = JSON.parse(await readFile(stateFile, 'utf8')) as { at: string }
    log.debug({ at: prior.at }, 'sample already enqueued earlier; skipping')
    return
  }
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jsonl')).map((f) => path.join(dir, f))
  const { enqueueFiles } = await import('../feed/enqueue.js')
  const r = await enqueueFiles(files, {
    layout,
    batchSize: settings.batchSize,
    maxTextBytes: settings.maxTextBytes,
    log: log.child({ component: 'enqueue' }),
  })
  await writeFileAtomic(stateFile, `${JSON.stringify({ at: new Date().toISOString(), dir, ...r })}\n`)
  log.info(
    { dir, docs: r.docs, batches: r.batches },
    'first run: enqueued the sample (set LR_SAMPLE=off to skip)',
  )
}

/** The checkout's own default data dir, file sink, no source, nothing enqueued or claimed yet. */
async function isDemoSetup(settings: Settings, layout: Layout): Promise<boolean> {
  if (path.resolve(settings.dataDir) !== checkoutDataDir) return false
  if (sinkOf(settings) !== 'file' || sourceOf(settings) !== null) return false
  const [left, right] = await Promise.all([readdir(layout.left), readdir(layout.right)])
  return left.length === 0 && right.length === 0
}
