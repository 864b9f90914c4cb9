import { compareIds, type RedisStreams } from '../adapters/redis.js'
import type { Logger } from '../core/log.js'
import { sleep } from '../core/sleep.js'
import type { DispatchTarget } from './dispatch.js'

/**
 * `dispatch --to redis`: XADD each page's documents (`doc_id`, `text` fields). Backpressure
 * as in the users' own buffer queue: before each page, wait while the group has more than
 * `maxLen` entries it has not acknowledged (unread + pending). Entries the group has
 * acknowledged are trimmed away (XTRIM MINID); unread or pending ones never are.
 */
export function redisTarget(
  redis: RedisStreams,
  opts: { stream: string; group: string; maxLen: number; signal: AbortSignal; log: Logger },
): DispatchTarget {
  const { stream, group } = opts
  let waitingSince = 0
  return {
    name: `redis:${stream}`,
    async send(docs) {
      await redis.ensureGroup(stream, group)
      for (;;) {
        const info = await redis.groupInfo(stream, group)
        const backlog = (info.lag ?? (await redis.length(stream))) + info.pending
        if (backlog <= opts.maxLen || opts.signal.aborted) break
        if (waitingSince === 0) {
          waitingSince = Date.now()
          opts.log.info({ backlog, maxLen: opts.maxLen }, 'stream full: waiting for the consumers')
        }
        await trimAcknowledged(redis, stream, group)
        await sleep(200, opts.signal)
      }
      if (waitingSince > 0) {
        opts.log.info({ waitedMs: Date.now() - waitingSince }, 'stream has room again')
        waitingSince = 0
      }
      if (opts.signal.aborted) throw new Error('dispatch stopped while the stream was full')
      await redis.add(
        stream,
        docs.map((d) => ({ doc_id: d.doc_id, text: d.text })),
      )
      await trimAcknowledged(redis, stream, group)
    },
  }
}

/** Drop entries older than both the group's oldest pending entry and its last delivered one. */
async function trimAcknowledged(redis: RedisStreams, stream: string, group: string): Promise<void> {
  const info = await redis.groupInfo(stream, group)
  let minId = nextId(info.lastDelivered)
  const oldestPending = await redis.oldestPending(stream, group)
  if (oldestPending && compareIds(oldestPending, minId) < 0) minId = oldestPending
  await redis.trimBefore(stream, minId)
}

/** The smallest id after `id`. */
function nextId(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-')
  return `${ms}-${BigInt(seq) + 1n}`
}
