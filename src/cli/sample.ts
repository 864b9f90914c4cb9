import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { type Settings, shippedSampleDir } from '../core/config.js'
import type { Logger } from '../core/log.js'
import { enqueueFiles } from '../feed/enqueue.js'
import { writeFileAtomic } from '../store/atomic.js'
import { type Layout, stateFiles } from '../store/layout.js'

/**
 * On the first `start` without a source (no Kafka), enqueue the shipped sample
 * once, so `npm start` on a fresh clone has work to show. The state file makes
 * later runs skip it, even after its batches are done and deleted.
 */
export async function seedSample(settings: Settings, layout: Layout, log: Logger): Promise<void> {
  if (settings.sample === 'off') return
  if (settings.sample === 'auto' && settings.kafkaBrokers) return
  const dir = settings.sample === 'auto' ? shippedSampleDir : path.resolve(settings.sample)
  const stateFile = stateFiles(layout).sample
  if (existsSync(stateFile)) {
    const prior = JSON.parse(await readFile(stateFile, 'utf8')) as { at: string }
    log.debug({ at: prior.at }, 'sample already enqueued earlier; skipping')
    return
  }
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jsonl')).map((f) => path.join(dir, f))
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
