import { hostname } from 'node:os'
import { compareIds, isNoGroup, type RedisStreams, type StreamEntry } from '../adapters/redis.js'
import type { Logger } from '../core/log.js'
import type { Outages } from '../core/outages.js'
import { backoffMs, sleep } from '../core/sleep.js'
import type { Delivery, Source, SourceEntry, SourceLag } from './source.js'

export interface RedisSourceOptions {
  stream: string
  group: string
  batchSize: number
  /** Entries pending this long with a consumer (one that died, say) are claimed by this one. */
  claimIdleMs: number
  /** How long one XREADGROUP waits for new entries; also how fast a stop is noticed. */
  blockMs?: number
  log: Logger
  outages?: Outages
}

/**
 * Redis Streams as a source: XREADGROUP as consumer `<host>-<pid>` of the group, a
 * delivery per read of up to batchSize entries, XACK of exactly the entries of a batch
 * file once it is durable. Entries left pending by a consumer that died are taken over
 * with XAUTOCLAIM once idle for `claimIdleMs`. An entry is either the fields `doc_id`
 * and `text` (plus any others), or one field `data` holding the document as JSON or msgpack.
 */
export class RedisSource implements Source {
  readonly kind = 'redis'
  readonly name: string
  readonly consumer = `${hostname()}-${process.pid}`
  private readonly stopController = new AbortController()
  private loop: Promise<void> | null = null
  private lastClaimAt = 0

  constructor(
    private readonly redis: RedisStreams,
    private readonly opts: RedisSourceOptions,
  ) {
    this.name = `redis:${opts.stream}`
  }

  async start(onDelivery: (d: Delivery) => Promise<void>): Promise<void> {
    // Redis down at start is an outage like any other: the loop creates the group when it can.
    this.loop = this.run(onDelivery)
  }

  async stop(): Promise<void> {
    if (this.stopController.signal.aborted) return
    this.stopController.abort()
    // Whatever was read and not acknowledged stays pending in the group: another consumer
    // (or this one's successor) claims it after claimIdleMs.
    await this.loop
  }

  async drainedCheck(): Promise<() => Promise<boolean>> {
    await this.redis.ensureGroup(this.opts.stream, this.opts.group)
    const end = await this.redis.lastId(this.opts.stream)
    return async () => {
      const info = await this.redis.groupInfo(this.opts.stream, this.opts.group)
      return info.pending === 0 && compareIds(info.lastDelivered, end) >= 0
    }
  }

  async lag(): Promise<SourceLag> {
    const info = await this.redis.groupInfo(this.opts.stream, this.opts.group)
    const unread = info.lag ?? (await this.redis.length(this.opts.stream))
    return { total: unread + info.pending, parts: { unread, pending: info.pending } }
  }

  /** The read loop: never dies; a Redis outage is logged once and waited out. */
  private async run(onDelivery: (d: Delivery) => Promise<void>): Promise<void> {
    const { stream, group } = this.opts
    const signal = this.stopController.signal
    let failures = 0
    let groupReady = false
    while (!signal.aborted) {
      try {
        if (!groupReady) {
          await this.redis.ensureGroup(stream, group)
          groupReady = true
        }
        const entries = await this.next()
        failures = 0
        this.opts.outages?.ok('source')
        if (entries.length === 0 || signal.aborted) continue
        const position = (e: StreamEntry): Record<string, string> => ({ stream, id: e.id })
        await onDelivery({
          entries: entries.map((e) => ({ value: entryBody(e.fields), position: position(e) })),
          label: (first: SourceEntry, last: SourceEntry) =>
            `redis:${stream}@${first.position.id}-${last.position.id}`,
          ack: (done) =>
            this.redis.ack(
              stream,
              group,
              done.map((e) => String(e.position.id)),
            ),
          heartbeat: async () => {},
          isRunning: () => !signal.aborted,
        })
      } catch (err) {
        if (signal.aborted) break
        // The stream or group was deleted under us: create it again.
        if (isNoGroup(err)) groupReady = false
        failures++
        if (this.opts.outages) this.opts.outages.failed('source', err, 'prefetch from Redis')
        else if (failures === 1) this.opts.log.warn({ err }, 'reading the Redis stream failed; will retry')
        await sleep(backoffMs(Math.min(failures, 6), 200, 5000), signal)
      }
    }
  }

  /** Entries to work on: first those a dead consumer left pending (now and then), else new ones. */
  private async next(): Promise<StreamEntry[]> {
    const { stream, group, batchSize, claimIdleMs } = this.opts
    const now = Date.now()
    if (now - this.lastClaimAt >= Math.min(5000, Math.max(100, claimIdleMs / 2))) {
      this.lastClaimAt = now
      const claimed = await this.redis.autoClaim(stream, group, this.consumer, claimIdleMs, batchSize)
      if (claimed.length > 0) {
        this.opts.log.info(
          { count: claimed.length, first: claimed[0]?.id },
          'took over entries another consumer left pending',
        )
        return claimed
      }
    }
    // Several batches per read: fewer round trips; each batch file is still acknowledged on its own.
    return this.redis.readGroup(stream, group, this.consumer, batchSize * 10, this.opts.blockMs ?? 1000)
  }
}

/** The document bytes of an entry: the `data` field, else the fields as one JSON object. */
function entryBody(fields: Map<string, Buffer>): Buffer {
  const data = fields.get('data')
  if (data && fields.size === 1) return data
  const obj: Record<string, string> = {}
  for (const [k, v] of fields) obj[k] = v.toString('utf8')
  return Buffer.from(JSON.stringify(obj))
}
