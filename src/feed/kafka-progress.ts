import type { KafkaClient } from '../adapters/kafka.js'

/** Messages of the topic the group has not committed yet, over all partitions. */
export async function consumerLag(kafka: KafkaClient, topic: string, group: string): Promise<number> {
  const [end, committed] = await Promise.all([kafka.endOffsets(topic), kafka.committedOffsets(group, topic)])
  let lag = 0n
  for (const [partition, high] of end) {
    const at = committed.get(partition) ?? -1n
    lag += at < 0n ? high : high > at ? high - at : 0n
  }
  return Number(lag)
}

/**
 * `--once` with Kafka: done when the group's committed offsets reach the end
 * offsets seen at start, on every partition.
 */
export async function caughtUpCheck(
  kafka: KafkaClient,
  topic: string,
  group: string,
): Promise<() => Promise<boolean>> {
  const end = await kafka.endOffsets(topic)
  return async () => {
    const committed = await kafka.committedOffsets(group, topic)
    for (const [partition, high] of end) {
      if (high > 0n && (committed.get(partition) ?? -1n) < high) return false
    }
    return true
  }
}
