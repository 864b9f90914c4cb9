/**
 * The only module that knows the RabbitMQ client library (amqplib). Everything
 * else sees `AmqpQueues`: consume with manual acks, the queue's depth, publish.
 */
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib'

export interface AmqpMessage {
  body: Buffer
  deliveryTag: number
  redelivered: boolean
  /** Acknowledge it; false when its channel is gone (RabbitMQ then delivers it again). */
  ack(): boolean
}

export interface AmqpConsumer {
  /** Cancel the consumer and close its channel: unacknowledged messages go back to the queue. */
  stop(): Promise<void>
}

export interface AmqpQueues {
  /**
   * Consume a durable queue with manual acks and at most `prefetch` unacknowledged messages.
   * `onClosed` is called once if the channel or connection goes away without `stop()`.
   */
  consume(
    queue: string,
    prefetch: number,
    onMessage: (m: AmqpMessage) => void,
    onClosed: (err: unknown) => void,
  ): Promise<AmqpConsumer>
  /** Messages ready in the queue (not counting those delivered and unacknowledged). */
  depth(queue: string): Promise<number>
  /** Publish persistent messages and resolve once the broker confirmed them all. */
  publish(queue: string, bodies: Buffer[]): Promise<void>
  close(): Promise<void>
}

export async function connectAmqp(url: string): Promise<AmqpQueues> {
  const conn: ChannelModel = await amqp.connect(url)
  let closed = false
  let connectionError: unknown = null
  conn.on('error', (err: unknown) => {
    connectionError = err
  })
  conn.on('close', () => {
    closed = true
  })
  let control: Channel | null = null
  const controlChannel = async (): Promise<Channel> => {
    if (!control) {
      const ch = await conn.createChannel()
      // A failed check (a missing queue) closes its channel: the next call opens a new one.
      ch.on('error', () => {})
      ch.on('close', () => {
        if (control === ch) control = null
      })
      control = ch
    }
    return control
  }
  let confirm: Awaited<ReturnType<ChannelModel['createConfirmChannel']>> | null = null

  return {
    async consume(queue, prefetch, onMessage, onClosed) {
      const ch = await conn.createChannel()
      let stopping = false
      let open = true
      const closedOnce = (err: unknown): void => {
        if (!open) return
        open = false
        if (!stopping) onClosed(err ?? connectionError ?? new Error('AMQP channel closed'))
      }
      ch.on('error', (err: unknown) => closedOnce(err))
      ch.on('close', () => closedOnce(null))
      await ch.assertQueue(queue, { durable: true })
      await ch.prefetch(prefetch)
      const { consumerTag } = await ch.consume(
        queue,
        (m: ConsumeMessage | null) => {
          // null: the broker cancelled the consumer (the queue was deleted).
          if (m === null) return closedOnce(new Error(`queue ${queue}: consumer cancelled by the broker`))
          onMessage({
            body: m.content,
            deliveryTag: m.fields.deliveryTag,
            redelivered: m.fields.redelivered,
            ack: () => {
              if (!open) return false
              ch.ack(m)
              return true
            },
          })
        },
        { noAck: false },
      )
      return {
        async stop() {
          if (stopping) return
          stopping = true
          if (!open) return
          await ch.cancel(consumerTag).catch(() => {})
          await ch.close().catch(() => {})
        },
      }
    },
    async depth(queue) {
      const ch = await controlChannel()
      return (await ch.checkQueue(queue)).messageCount
    },
    async publish(queue, bodies) {
      if (!confirm) {
        confirm = await conn.createConfirmChannel()
        await confirm.assertQueue(queue, { durable: true })
      }
      for (const body of bodies) confirm.sendToQueue(queue, body, { persistent: true })
      await confirm.waitForConfirms()
    },
    async close() {
      if (closed) return
      await conn.close().catch(() => {})
    },
  }
}
