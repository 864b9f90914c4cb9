import type { AmqpConsumer, AmqpMessage, AmqpQueues } from '../adapters/amqp.js'
import type { Logger } from '../core/log.js'
import type { Outages } from '../core/outages.js'
import { backoffMs, sleep } from '../core/sleep.js'
import type { Delivery, Source, SourceEntry, SourceLag } from './source.js'

export interface AmqpSourceOptions {
  queue: string
  batchSize: number
  /** A partial batch is handed over once its first message has waited this long. */
  lingerMs?: number
  log: Logger
  outages?: Outages
}

/**
 * RabbitMQ as a source: a durable queue consumed with manual acks and a prefetch of two
 * batches (one being written, one arriving). Messages are handed over in deliveries of up
 * to batchSize; each is acknowledged once its batch file is durable (or it is in dead/).
 * On stop, or when the connection drops, unacknowledged messages go back to the queue.
 * A lost connection is logged once and reopened with backoff.
 */
export class AmqpSource implements Source {
  readonly kind = 'amqp'
  readonly name: string
  private readonly stopController = new AbortController()
  private conn: AmqpQueues | null = null
  private consumer: AmqpConsumer | null = null
  /** Received and not yet handed over. */
  private buffer: AmqpMessage[] = []
  private readonly owner = new WeakMap<SourceEntry, AmqpMessage>()
  /** Handed over and not yet acknowledged. */
  private held = 0
  private wake: (() => void) | null = null
  private loop: Promise<void> | null = null

  constructor(
    private readonly connect: () => Promise<AmqpQueues>,
    private readonly opts: AmqpSourceOptions,
  ) {
    this.name = `amqp:${opts.queue}`
  }

  async start(onDelivery: (d: Delivery) => Promise<void>): Promise<void> {
    // RabbitMQ down at start is an outage like any other: the loop connects when it can.
    await this.open().catch((err: unknown) => {
      if (this.opts.outages) this.opts.outages.failed('source', err, 'prefetch from RabbitMQ')
      else this.opts.log.warn({ err }, 'RabbitMQ unreachable; will retry')
    })
    this.loop = this.run(onDelivery)
  }

  async stop(): Promise<void> {
    if (this.stopController.signal.aborted) return
    this.stopController.abort()
    this.wake?.()
    await this.loop
    await this.consumer?.stop()
    await this.conn?.close()
    this.buffer = []
  }

  async drainedCheck(): Promise<() => Promise<boolean>> {
    return async () => {
      if (this.buffer.length > 0 || this.held > 0) return false
      const conn = this.conn
      return conn ? (await conn.depth(this.opts.queue)) === 0 : false
    }
  }

  async lag(): Promise<SourceLag> {
    // Not started (`status` asks): a connection of its own for the question.
    const conn = this.conn ?? (await this.connect())
    let ready: number
    try {
      ready = await conn.depth(this.opts.queue)
    } finally {
      if (conn !== this.conn) await conn.close()
    }
    const here = this.buffer.length + this.held
    return { total: ready + here, parts: { ready, unackedHere: here } }
  }

  /** (Re)connect and consume; a failure is thrown to the caller, which backs off. */
  private async open(): Promise<void> {
    await this.conn?.close()
    this.buffer = []
    const conn = await this.connect()
    this.conn = conn
    const consumer: AmqpConsumer = await conn.consume(
      this.opts.queue,
      this.opts.batchSize * 2,
      (m) => {
        this.buffer.push(m)
        if (this.buffer.length >= this.opts.batchSize) this.wake?.()
      },
      (err) => {
        if (this.stopController.signal.aborted) return
        this.opts.outages?.failed('source', err, 'prefetch from RabbitMQ')
        if (!this.opts.outages) this.opts.log.warn({ err }, 'RabbitMQ connection lost; reconnecting')
        if (this.consumer === consumer) this.consumer = null
        this.wake?.()
      },
    )
    this.consumer = consumer
    this.opts.outages?.ok('source')
  }

  private async run(onDelivery: (d: Delivery) => Promise<void>): Promise<void> {
    const signal = this.stopController.signal
    const linger = this.opts.lingerMs ?? 200
    let failures = 0
    while (!signal.aborted) {
      if (!this.consumer) {
        try {
          await this.open()
          failures = 0
        } catch (err) {
          failures++
          this.opts.outages?.failed('source', err, 'prefetch from RabbitMQ')
          await sleep(backoffMs(Math.min(failures, 6), 200, 5000), signal)
          continue
        }
      }
      if (this.buffer.length < this.opts.batchSize) {
        // Wait for a full batch, or hand over what came within the linger time.
        await this.waitFor(this.buffer.length === 0 ? 1000 : linger, signal)
        if (this.buffer.length === 0 || signal.aborted) continue
      }
      const taken = this.buffer.splice(0, this.opts.batchSize)
      const entries = taken.map((m) => {
        const e: SourceEntry = {
          value: m.body,
          position: { queue: this.opts.queue, deliveryTag: m.deliveryTag },
        }
        this.owner.set(e, m)
        return e
      })
      this.held += entries.length
      try {
        await onDelivery({
          entries,
          label: (first, last) =>
            `amqp:${this.opts.queue}#${first.position.deliveryTag}-${last.position.deliveryTag}`,
          ack: async (done) => {
            let lost = 0
            for (const e of done) {
              const m = this.owner.get(e)
              if (!m) continue
              this.owner.delete(e)
              this.held--
              if (!m.ack()) lost++
            }
            // Its channel is gone: RabbitMQ redelivers those messages (a re-send, idempotent).
            if (lost > 0)
              this.opts.log.warn({ lost }, 'acknowledging after the channel closed; they come again')
          },
          heartbeat: async () => {},
          isRunning: () => !signal.aborted,
        })
      } catch (err) {
        this.opts.log.error({ err }, 'prefetch from RabbitMQ failed; the messages go back to the queue')
        this.consumer?.stop().catch(() => {})
        this.consumer = null
        // Entries not acknowledged go back with the channel. (After a delivery that returned,
        // its entries are acknowledged later, once their batch files are synced.)
        for (const e of entries) if (this.owner.delete(e)) this.held--
      }
    }
  }

  private waitFor(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.wake = null
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.wake = done
      if (signal.aborted) done()
    })
  }
}
