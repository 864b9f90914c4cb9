import { connectAmqp } from '../adapters/amqp.js'
import { createKafkaClient } from '../adapters/kafka.js'
import { createRedisStreams } from '../adapters/redis.js'
import { type Settings, sourceOf } from '../core/config.js'
import type { Logger } from '../core/log.js'
import type { Outages } from '../core/outages.js'
import { AmqpSource } from './amqp-source.js'
import { KafkaSource } from './kafka-source.js'
import { RedisSource } from './redis-source.js'
import type { Source } from './source.js'

/**
 * The source this process reads (Kafka, Redis Streams or RabbitMQ; settings allow one),
 * with what releases its client once the source is stopped; null when none is set.
 */
export function createSource(
  settings: Settings,
  log: Logger,
  outages?: Outages,
): { source: Source; close: () => Promise<void> } | null {
  const kind = sourceOf(settings)
  if (kind === 'kafka') {
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
