/**
 * The only module that knows the Redis client library (ioredis). Everything else
 * sees `RedisStreams`: the few stream commands a source and `dispatch` need.
 */
import { Redis } from 'ioredis'

export interface StreamEntry {
  /** The entry id, `ms-seq`. */
  id: string
  /** Field -> value, values as received (bytes). */
  fields: Map<string, Buffer>
}

export interface GroupInfo {
  /** Entries delivered to a consumer and not acknowledged yet. */
  pending: number
  /** The last entry id delivered to the group (`0-0` before the first). */
  lastDelivered: string
  /** Entries not yet delivered to the group; null when Redis cannot tell (after deletions). */
  lag: number | null
}

export interface RedisStreams {
  /** Create the group (and the stream) when missing; the group starts at the stream's beginning. */
  ensureGroup(stream: string, group: string): Promise<void>
  /** New entries for this consumer (XREADGROUP ... >), waiting up to blockMs for the first. */
  readGroup(
    stream: string,
    group: string,
    consumer: string,
    count: number,
    blockMs: number,
  ): Promise<StreamEntry[]>
  /** Entries pending longer than minIdleMs with any consumer, now this consumer's (XAUTOCLAIM). */
  autoClaim(
    stream: string,
    group: string,
    consumer: string,
    minIdleMs: number,
    count: number,
  ): Promise<StreamEntry[]>
  ack(stream: string, group: string, ids: string[]): Promise<void>
  /** The id of the newest entry (`0-0` for an empty or missing stream). */
  lastId(stream: string): Promise<string>
  groupInfo(stream: string, group: string): Promise<GroupInfo>
  length(stream: string): Promise<number>
  /** Append entries, one XADD each, in one round trip. */
  add(stream: string, entries: Record<string, string>[]): Promise<void>
  /** The id of the group's oldest entry delivered and not acknowledged, or null. */
  oldestPending(stream: string, group: string): Promise<string | null>
  /** Drop entries older than `minId` (acknowledged by the group; never unread ones). */
  trimBefore(stream: string, minId: string): Promise<void>
  close(): Promise<void>
}

/** Compare two entry ids (`ms-seq`). */
export function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-')
  const [bm = '0', bs = '0'] = b.split('-')
  const d = BigInt(am) - BigInt(bm)
  if (d !== 0n) return d < 0n ? -1 : 1
  const e = BigInt(as) - BigInt(bs)
  return e === 0n ? 0 : e < 0n ? -1 : 1
}

function toEntries(raw: unknown): StreamEntry[] {
  const out: StreamEntry[] = []
  for (const item of (raw as [Buffer, Buffer[] | null][] | null) ?? []) {
    const [id, flat] = item
    // A pending entry deleted from the stream comes back without fields: nothing to read.
    if (!flat) continue
    const fields = new Map<string, Buffer>()
    for (let i = 0; i + 1 < flat.length; i += 2) {
      fields.set((flat[i] as Buffer).toString('utf8'), flat[i + 1] as Buffer)
    }
    out.push({ id: id.toString('utf8'), fields })
  }
  return out
}

const isNoGroup = (err: unknown): boolean => err instanceof Error && err.message.startsWith('NOGROUP')

export function createRedisStreams(url: string, opts: { connectTimeoutMs?: number } = {}): RedisStreams {
  // Two connections: a blocking XREADGROUP holds its connection for up to blockMs, and acks
  // must not queue behind it.
  const make = (): Redis =>
    new Redis(url, {
      lazyConnect: false,
      connectTimeout: opts.connectTimeoutMs ?? 5000,
      maxRetriesPerRequest: 2,
      // Reconnect with a capped backoff for as long as the process runs.
      retryStrategy: (times) => Math.min(times * 200, 5000),
    })
  const reader = make()
  const writer = make()
  // Errors surface on the commands; the connection's own events would otherwise be unhandled.
  reader.on('error', () => {})
  writer.on('error', () => {})

  return {
    async ensureGroup(stream, group) {
      try {
        await writer.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
      } catch (err) {
        if (!(err instanceof Error && err.message.startsWith('BUSYGROUP'))) throw err
      }
    },
    async readGroup(stream, group, consumer, count, blockMs) {
      const raw = (await reader.callBuffer(
        'XREADGROUP',
        'GROUP',
        group,
        consumer,
        'COUNT',
        count,
        'BLOCK',
        blockMs,
        'STREAMS',
        stream,
        '>',
      )) as unknown[] | null
      if (!raw || raw.length === 0) return []
      // One stream asked: [[key, items]] in RESP2's shape, or [key, items] as a flattened map.
      return Buffer.isBuffer(raw[0]) ? toEntries(raw[1]) : toEntries((raw[0] as unknown[])[1])
    },
    async autoClaim(stream, group, consumer, minIdleMs, count) {
      const raw = (await writer.callBuffer(
        'XAUTOCLAIM',
        stream,
        group,
        consumer,
        minIdleMs,
        '0-0',
        'COUNT',
        count,
      )) as [Buffer, unknown, unknown?]
      return toEntries(raw[1])
    },
    async ack(stream, group, ids) {
      if (ids.length > 0) await writer.call('XACK', stream, group, ...ids)
    },
    async lastId(stream) {
      const raw = (await writer.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)) as [string, unknown][]
      return raw[0]?.[0] ?? '0-0'
    },
    async groupInfo(stream, group) {
      let groups: unknown[][]
      try {
        groups = (await writer.call('XINFO', 'GROUPS', stream)) as unknown[][]
      } catch (err) {
        // No stream yet: nothing pending, nothing delivered.
        if (err instanceof Error && /no such key/i.test(err.message)) {
          return { pending: 0, lastDelivered: '0-0', lag: 0 }
        }
        throw err
      }
      for (const flat of groups) {
        const info = new Map<string, unknown>()
        for (let i = 0; i + 1 < flat.length; i += 2) info.set(String(flat[i]), flat[i + 1])
        if (info.get('name') !== group) continue
        const lag = info.get('lag')
        return {
          pending: Number(info.get('pending') ?? 0),
          lastDelivered: String(info.get('last-delivered-id') ?? '0-0'),
          lag: lag === null || lag === undefined ? null : Number(lag),
        }
      }
      return { pending: 0, lastDelivered: '0-0', lag: null }
    },
    async length(stream) {
      return Number(await writer.call('XLEN', stream))
    },
    async add(stream, entries) {
      const pipeline = writer.pipeline()
      for (const e of entries) pipeline.call('XADD', stream, '*', ...Object.entries(e).flat())
      const results = (await pipeline.exec()) ?? []
      for (const [err] of results) if (err) throw err
    },
    async oldestPending(stream, group) {
      const raw = (await writer.call('XPENDING', stream, group)) as [number, string | null, ...unknown[]]
      return Number(raw[0]) > 0 ? (raw[1] ?? null) : null
    },
    async trimBefore(stream, minId) {
      await writer.call('XTRIM', stream, 'MINID', minId)
    },
    async close() {
      reader.disconnect()
      await writer.quit().catch(() => writer.disconnect())
    },
  }
}

export { isNoGroup }
