/**
 * The only module that knows the Kafka client library (kafkajs). Everything
 * else sees these small interfaces, so the client can be swapped.
 */
import { type Consumer, Kafka, logLevel, type Producer } from 'kafkajs'
import type { Logger } from '../core/log.js'
import { MergedCommits } from './kafka-commits.js'

/**
 * Partitions of one fetch handled at once: while one partition's batch files are synced and
 * its offset committed, the others are decoded and written. Order within a partition stays.
 */
const PARTITIONS_AT_ONCE = 4

/** kafkajs error types that mean the group is rebalancing (its own isRebalancing, and a member the group dropped). */
const REBALANCING = new Set([
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
])

/** One message of a fetched batch (its partition is the batch's). */
export interface KafkaMessage {
  offset: string
  value: Buffer | null
}

export interface MessageBatchContext {
  topic: string
  partition: number
  messages: KafkaMessage[]
  /** Keep the group session alive during long work; throws when a rebalance needs this consumer to stop. */
  heartbeat(): Promise<void>
  /** Commit "next offset to read" = last handled offset + 1, for this partition. */
  commit(lastOffset: string): Promise<void>
  isRunning(): boolean
}

export interface GroupConsumer {
  /**
   * Hand each fetched batch to `onBatch`: a partition's batches one at a time and in order, the
   * next fetch already on its way while a batch is handled (one batch a partition read ahead). A
   * batch whose handler fails is read again from its first offset.
   */
  run(onBatch: (ctx: MessageBatchContext) => Promise<void>): Promise<void>
  stop(): Promise<void>
}

export interface KafkaClient {
  consumer(
    groupId: string,
    topic: string,
    opts?: { maxWaitMs?: number; maxBytes?: number; sessionTimeoutMs?: number },
  ): Promise<GroupConsumer>
  producer(): Promise<JsonProducer>
  /** Partition -> end offset (high watermark) now. */
  endOffsets(topic: string): Promise<Map<number, bigint>>
  /** Partition -> the group's committed offset (-1 when none). */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>>
  /** For `doctor`: does the topic exist (without creating it), its partitions, and the group's state. */
  describe(
    topic: string,
    groupId: string,
  ): Promise<{ topicExists: boolean; partitions: number; groupState: string }>
  /** Make sure the topic exists (fetching its metadata auto-creates it on brokers that allow it). */
  ensureTopic(topic: string): Promise<void>
  close(): Promise<void>
}

export interface JsonProducer {
  /** Send values and resolve once every broker acknowledged them (acks=all). */
  send(topic: string, values: string[]): Promise<void>
  close(): Promise<void>
}

function kafkaLogger(log: Logger) {
  return () =>
    ({ level, log: entry }: { level: number; log: { message: string } & Record<string, unknown> }) => {
      const { message, timestamp: _t, logger: _l, ...rest } = entry
      if (level === logLevel.ERROR) log.error(rest, message)
      else if (level === logLevel.WARN) log.warn(rest, message)
      else log.debug(rest, message)
    }
}

export function createKafkaClient(
  brokers: string[],
  log: Logger,
  clientId = 'leftright',
  opts: { retries?: number; connectionTimeoutMs?: number } = {},
): KafkaClient {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1'
  const kafka = new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogger(log),
    retry: { retries: opts.retries ?? 8, initialRetryTime: 200 },
    ...(opts.connectionTimeoutMs ? { connectionTimeout: opts.connectionTimeoutMs } : {}),
  })
  const closers: (() => Promise<void>)[] = []
  let admin: ReturnType<Kafka['admin']> | null = null
  const getAdmin = async () => {
    if (!admin) {
      const a = kafka.admin()
      await a.connect()
      admin = a
      closers.push(() => a.disconnect())
    }
    return admin
  }

  return {
    async consumer(groupId, topic, opts = {}) {
      const sessionTimeout = opts.sessionTimeoutMs ?? 30_000
      const make = (): Consumer =>
        kafka.consumer({
          groupId,
          maxWaitTimeInMs: opts.maxWaitMs ?? 500,
          maxBytes: opts.maxBytes ?? 10 * 1024 * 1024,
          sessionTimeout,
          // How long a rebalance waits for members to rejoin: a killed member never does. Ours
          // leave eachBatch at their next heartbeat, so the session timeout is long enough.
          rebalanceTimeout: sessionTimeout,
          heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
        })
      let consumer = make()
      let stopped = false
      let restartTimer: NodeJS.Timeout | null = null
      let onBatch: ((ctx: MessageBatchContext) => Promise<void>) | null = null
      /** By partition: the batch being handled after its eachBatch returned (kept across restarts). */
      const handling = new Map<number, Promise<void>>()

      const runOnce = async (c: Consumer): Promise<void> => {
        // kafkajs restarts a crashed consumer itself only for errors it deems retriable (a SyncGroup
        // refused while two members join at once is not). A box whose consumer stopped for good would
        // sit idle, so start a fresh one.
        c.on(c.events.CRASH, ({ payload }) => {
          if (payload.restart || stopped) return
          log.error({ err: payload.error }, 'Kafka consumer stopped after an error; starting a new one in 1s')
          restartTimer = setTimeout(async () => {
            // Leave the group first: a member that just vanishes holds up every rebalance
            // for the whole session timeout, while the coordinator waits for it to rejoin.
            await c.disconnect().catch(() => {})
            if (stopped) return
            consumer = make()
            runOnce(consumer).catch((err: unknown) => log.error({ err }, 'consumer restart failed'))
          }, 1000)
        })
        const commits = new MergedCommits((offsets) => c.commitOffsets(offsets))
        await c.connect()
        await c.subscribe({ topic, fromBeginning: true })
        await c.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: PARTITIONS_AT_ONCE,
          eachBatch: async ({ batch, heartbeat, resolveOffset, isRunning, isStale }) => {
            if (batch.isEmpty() || isStale() || !onBatch) return
            const { topic: t, partition } = batch
            // A partition's batches in order: the one before first (it never rejects, see below).
            await handling.get(partition)
            if (isStale() || !isRunning() || stopped) return
            const handled = onBatch({
              topic: t,
              partition,
              // kafkajs's own message objects: a copy of each cost an allocation per message.
              messages: batch.messages,
              heartbeat,
              isRunning: () => isRunning() && !isStale() && !stopped,
              // Called after the batch was handed over (the prefetcher acknowledges once a shared sync
              // pass is done), in order for a partition; merged with the commits asked for meanwhile.
              commit: (lastOffset) =>
                commits.commit({ topic: t, partition, offset: (BigInt(lastOffset) + 1n).toString() }),
            })
            // kafkajs fetches again only once every eachBatch of a fetch has returned. Returning now,
            // with the fetch position past this batch, lets the broker answer the next fetch while
            // this one is decoded and written (a second batch of this partition waits above). Nothing
            // is committed before it is handled, and a failure reads the batch again:
            resolveOffset(batch.lastOffset())
            const first = (batch.messages[0] as KafkaMessage).offset
            const tracked: Promise<void> = handled
              .catch((err: unknown) => {
                if (stopped) return
                // A heartbeat during a long wait learns of a rebalance this way: routine, not an error.
                const routine = REBALANCING.has((err as { type?: string }).type ?? '')
                log[routine ? 'info' : 'error'](
                  { err, topic: t, partition, offset: first },
                  routine
                    ? 'the group is rebalancing; a batch being handled is left and read again'
                    : 'handling a Kafka batch failed; reading its partition again from its first offset',
                )
                try {
                  // Marks a batch fetched after it stale, and the next fetch starts here.
                  c.seek({ topic: t, partition, offset: first })
                } catch (e) {
                  // Not running any more: the next member (or this one, restarted) reads from the commit.
                  log.warn({ err: e, topic: t, partition }, 'cannot seek back after a failed batch')
                }
              })
              .finally(() => {
                if (handling.get(partition) === tracked) handling.delete(partition)
              })
            handling.set(partition, tracked)
          },
        })
      }
      return {
        run: async (handler) => {
          onBatch = handler
          await runOnce(consumer)
        },
        stop: async () => {
          stopped = true
          if (restartTimer) clearTimeout(restartTimer)
          await Promise.all(handling.values())
          await consumer.disconnect()
        },
      }
    },
    async producer() {
      const producer: Producer = kafka.producer({ allowAutoTopicCreation: true })
      await producer.connect()
      return {
        send: async (topic, values) => {
          await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) })
        },
        close: () => producer.disconnect(),
      }
    },
    async endOffsets(topic) {
      const offsets = await (await getAdmin()).fetchTopicOffsets(topic)
      return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]))
    },
    async committedOffsets(groupId, topic) {
      const [entry] = await (await getAdmin()).fetchOffsets({ groupId, topics: [topic] })
      return new Map((entry?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]))
    },
    async describe(topic, groupId) {
      const a = await getAdmin()
      const topics = await a.listTopics()
      const topicExists = topics.includes(topic)
      const partitions = topicExists
        ? ((await a.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions.length ?? 0)
        : 0
      // Some brokers (librdkafka's mock among them) do not answer DescribeGroups: not a failure.
      const groupState = await a.describeGroups([groupId]).then(
        (g) => g.groups[0]?.state ?? 'Unknown',
        () => 'not described by this broker',
      )
      return { topicExists, partitions, groupState }
    },
    async ensureTopic(topic) {
      const a = await getAdmin()
      for (let i = 0; i < 20; i++) {
        try {
          await a.fetchTopicMetadata({ topics: [topic] })
          return
        } catch {
          await new Promise((r) => setTimeout(r, 250))
        }
      }
      await a.fetchTopicMetadata({ topics: [topic] })
    },
    async close() {
      for (const close of closers.reverse()) await close().catch(() => {})
    },
  }
}
