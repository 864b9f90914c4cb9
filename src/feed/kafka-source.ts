import type { KafkaClient, KafkaMessage } from '../adapters/kafka.js'
import { caughtUpCheck, partitionLag } from './kafka-progress.js'
import type { Delivery, Source, SourceEntry, SourceLag } from './source.js'

/**
 * A message as a source entry. Its position is made when asked for (a dead/ entry, a label):
 * an object per message cost the prefetcher's garbage collector more than its decoding.
 */
class KafkaEntry implements SourceEntry {
  readonly value: Buffer | null
  constructor(
    private readonly m: KafkaMessage,
    private readonly topic: string,
    private readonly partition: number,
  ) {
    this.value = m.value
  }

  get position(): Record<string, string | number> {
    return { topic: this.topic, partition: this.partition, offset: this.m.offset }
  }
}

/**
 * Kafka as a source: one consumer of the group, a delivery per fetched partition batch.
 * Acknowledging a run of entries commits the offset after its last one (entries of a
 * delivery are one partition's, in order, and are acknowledged in order).
 */
export class KafkaSource implements Source {
  readonly kind = 'kafka'
  readonly name: string
  private consumer: Awaited<ReturnType<KafkaClient['consumer']>> | null = null
  private stopped = false

  constructor(
    private readonly kafka: KafkaClient,
    private readonly opts: { topic: string; group: string; maxWaitMs: number; sessionTimeoutMs: number },
  ) {
    this.name = `kafka:${opts.topic}`
  }

  async start(onDelivery: (d: Delivery) => Promise<void>): Promise<void> {
    const { topic, group } = this.opts
    await this.kafka.ensureTopic(topic)
    if (this.stopped) return
    const consumer = await this.kafka.consumer(group, topic, {
      maxWaitMs: this.opts.maxWaitMs,
      sessionTimeoutMs: this.opts.sessionTimeoutMs,
    })
    this.consumer = consumer
    await consumer.run((ctx) => {
      const offsetOf = (e: SourceEntry): string => String(e.position.offset)
      return onDelivery({
        entries: ctx.messages.map((m: KafkaMessage) => new KafkaEntry(m, ctx.topic, ctx.partition)),
        label: (first, last) => `kafka:${ctx.topic}/${ctx.partition}@${offsetOf(first)}-${offsetOf(last)}`,
        ack: async (entries) => {
          const last = entries[entries.length - 1]
          if (last) await ctx.commit(offsetOf(last))
        },
        heartbeat: () => ctx.heartbeat(),
        isRunning: () => ctx.isRunning() && !this.stopped,
      })
    })
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await this.consumer?.stop()
  }

  async drainedCheck(): Promise<() => Promise<boolean>> {
    await this.kafka.ensureTopic(this.opts.topic)
    return caughtUpCheck(this.kafka, this.opts.topic, this.opts.group)
  }

  async lag(): Promise<SourceLag> {
    const parts = await partitionLag(this.kafka, this.opts.topic, this.opts.group)
    let total = 0
    for (const n of Object.values(parts)) total += n
    return { total, parts }
  }
}
