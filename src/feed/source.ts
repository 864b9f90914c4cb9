/**
 * A source of documents (Kafka, Redis Streams, RabbitMQ), as the prefetcher sees it.
 *
 * Glossary:
 * - entry: one message of the source, with its raw value and its position (offset, stream id,
 *   delivery tag) so a set-aside entry in dead/ says where it came from.
 * - delivery: entries handed over together; the prefetcher packs them into batch files of
 *   `LR_BATCH_SIZE` and acknowledges exactly the entries of those files once they are durable
 *   (or the entry is in dead/), a group of files at a time, possibly after the delivery ended. Unacknowledged entries come again after a crash: at least once.
 * - pause: while the prefetcher waits for room (left/ full, disk low) it does not return from
 *   the delivery handler, so the source reads nothing more (Kafka holds at most one more fetched
 *   batch a partition, and keeps its session alive
 *   with `heartbeat`; Redis does not read; RabbitMQ stops at its prefetch count).
 */
export type SourceKind = 'kafka' | 'redis' | 'amqp'

export interface SourceEntry {
  /** The message body: JSON or msgpack `{doc_id, text, ...}`; null when empty. */
  value: Buffer | null
  /** Where it came from: {topic, partition, offset}, {stream, id} or {queue, deliveryTag}. */
  position: Record<string, string | number>
}

export interface Delivery {
  entries: SourceEntry[]
  /** Names a run of entries of this delivery for the batch file's `source` field and logs. */
  label(first: SourceEntry, last: SourceEntry): string
  /**
   * Acknowledge exactly these entries: they are durably in left/ or dead/. Calls may overlap (a
   * sync pass's are made at once, in hand-over order): an earlier call must not undo a later one
   * (Kafka merges its commits, the latest offset of a partition winning: MergedCommits).
   */
  ack(entries: SourceEntry[]): Promise<void>
  /** Keep the source's session alive during a long wait. */
  heartbeat(): Promise<void>
  /** False once this delivery must be abandoned (stopping, a Kafka rebalance). */
  isRunning(): boolean
}

export interface SourceLag {
  /** Entries not acknowledged yet: unread plus delivered but not acknowledged. */
  total: number
  /** Its parts, by name (`unread`, `pending`, `ready`, `unacked`, per partition ...). */
  parts: Record<string, number>
}

export interface Source {
  readonly kind: SourceKind
  /** What it reads, for logs and status: `kafka:docs`, `redis:docs`, `amqp:docs`. */
  readonly name: string
  /**
   * Connect and start delivering to `onDelivery`: one delivery at a time (Kafka: one at a time a
   * partition, in order, while the next is fetched).
   */
  start(onDelivery: (d: Delivery) => Promise<void>): Promise<void>
  /** Stop reading; entries delivered but not acknowledged go back to the source. Idempotent. */
  stop(): Promise<void>
  /**
   * For `--once`: takes the source's end now and returns a check that says yes once every
   * entry up to it has been acknowledged (by this process or another of the group).
   */
  drainedCheck(): Promise<() => Promise<boolean>>
  lag(): Promise<SourceLag>
}
