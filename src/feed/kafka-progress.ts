import type { KafkaClient } from '../adapters/kafka.js'

/** Per partition (`p0`, `p1`, ...): messages the group has not committed yet. */
export async function partitionLag(
  kafka: KafkaClient,
  topic: string,
  group: string,
): Promise<Record<string, number>> {
  const [end, committed] = await Promise.all([kafka.endOffsets(topic), kafka.committedOffsets(group, topic)])
  const parts: Record<string, number> = {}
  for (const [partition, high] of end) {
    const at = committed.get(partition) ?? -1n
    parts[`p${partition}`] = Number(at < 0n ? high : high > at ? high - at : 0n)
  }
  return parts
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
