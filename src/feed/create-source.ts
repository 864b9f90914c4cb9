import { type Settings, sourceOf } from '../core/config.js'
import type { Logger } from '../core/log.js'
import type { Outages } from '../core/outages.js'
import type { Source } from './source.js'

/**
 * The source this process reads (Kafka, Redis Streams or RabbitMQ; settings allow one),
 * with what releases its client once the source is stopped; null when none is set.
 */
export async function createSource(
  settings: Settings,
  log: Logger,
  outages?: Outages,
): Promise<{ source: Source; close: () => Promise<void> } | null> {
  // Only the chosen source's client library is loaded.
  const kind = sourceOf(settings)
  if (kind === 'kafka') {
    const { createKafkaClient } = await import('../adapters/kafka.js')
    const { KafkaSource } = await import('./kafka-source.js')
    const kafka = createKafkaClient(settings.kafkaBrokers as string[], log.child({ component: 'kafka' }))
    const source = new KafkaSource(kafka, {
      topic: settings.kafkaTopic,
      group: settings.kafkaGroup,
      maxWaitMs: settings.kafkaMaxWaitMs,
      sessionTimeoutMs: settings.kafkaSessionTimeoutMs,
    })
    return { source, close: () => kafka.close() }
  }
  if (kind === 'redis') {
    const { createRedisStreams } = await import('../adapters/redis.js')
    const { RedisSource } = await import('./redis-source.js')
    const redis = createRedisStreams(settings.redisUrl as string)
    const source = new RedisSource(redis, {
      stream: settings.redisStream,
      group: settings.redisGroup,
      batchSize: settings.batchSize,
      claimIdleMs: settings.redisClaimIdleMs,
      log: log.child({ component: 'redis' }),
      ...(outages ? { outages } : {}),
    })
    return { source, close: () => redis.close() }
  }
  if (kind === 'amqp') {
    const { connectAmqp } = await import('../adapters/amqp.js')
    const { AmqpSource } = await import('./amqp-source.js')
    const url = settings.amqpUrl as string
    const source = new AmqpSource(() => connectAmqp(url), {
      queue: settings.amqpQueue,
      batchSize: settings.batchSize,
      log: log.child({ component: 'amqp' }),
      ...(outages ? { outages } : {}),
    })
    return { source, close: async () => {} }
  }
  return null
}
